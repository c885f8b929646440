"""``triage explain``: explanation pages for reviewers (one per referral, plus an index).

``--referral ID`` replays a stored score from the inference log (what the reviewer saw,
with the model version of that time); ``--input FILE`` validates, pseudonymises and scores
a referral file now, through the one score-or-rules path of the service and ``triage
score`` (:func:`models.scoring_path.score_or_rules`: no model or a failing one means the
safety rules, ``degraded``). Pages hold metadata only and escape every referral string.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path


def _when(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO 8601 time with offset") from None
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError("the time needs an offset (e.g. Z or +00:00)")
    return t


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--referral", action="append", metavar="ID", help="a stored referral (repeatable)"
    )
    src.add_argument("--input", type=Path, metavar="FILE", help="referrals as JSON Lines")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--model", default="champion", help="alias or version for --input (default champion)"
    )
    p.add_argument(
        "--as-of", type=_when, metavar="ISO", help="with --referral: the score shown at this time"
    )
    p.add_argument("--top", type=int, default=5, help="urgency reasons per referral (default 5)")


def _store(settings):  # type: ignore[no-untyped-def]
    from reports.monitor import existing_store_url
    from serving.store import Store

    url = existing_store_url(settings)
    return Store(url) if url else None


def _from_store(args: argparse.Namespace, settings) -> list:  # type: ignore[no-untyped-def]
    from reports.explain import record_from_store, store_index

    store = _store(settings)
    if store is None:
        print("error: no store found; nothing has been scored here yet", file=sys.stderr)
        return []
    records = []
    with store:
        index = store_index(store)
        for rid in args.referral:
            rec = record_from_store(store, rid, args.as_of, index=index)
            if rec is None:
                print(f"error: referral {rid}: no score in the store", file=sys.stderr)
                return []
            records.append(rec)
    return records


def _from_file(args: argparse.Namespace, settings) -> list:  # type: ignore[no-untyped-def]
    from features.history import history_file
    from features.ingest import read_jsonl
    from features.pipeline import build_features
    from models.scoring_path import score_or_rules
    from reports.explain import records_from_scores
    from reports.monitor import training_history
    from serving.scoring import load_history
    from triage.commands.score import load_model
    from triage.common import pseudonymiser, report_rejected

    if not args.input.exists():
        print(f"error: {args.input}: no such file", file=sys.stderr)
        return []
    batch = read_jsonl(args.input, pseudonymiser(settings), labels=True)
    report_rejected(batch.rejected)
    refs = sorted(batch.referrals, key=lambda r: r.received_at)
    if not refs:
        print("error: no valid referrals to explain", file=sys.stderr)
        return []
    store = _store(settings)
    history = []
    hist = None
    if store is not None:  # features as the service makes them: training events + store
        with store:
            history = list(store.history_referrals())
            hist, _, _ = load_history(history_file(settings.home), store)
    else:
        hist = training_history(settings)
    feats = build_features(refs, None, hist)
    model, why = load_model(settings, args.model)
    if model is None:
        print(f"warning: {why}; scoring with the safety rules alone", file=sys.stderr)
    out = score_or_rules(model, feats, referrals=refs, top_k=args.top)
    if out.degraded_reason == "model_error":
        print(
            f"warning: the model failed ({out.error_type}); the safety rules scored",
            file=sys.stderr,
        )
    return records_from_scores(refs, out.scores, feats.X, history)


def run(args: argparse.Namespace) -> int:
    from reports.explain import write_reports
    from triage.common import settings as load_settings

    settings = load_settings()
    records = _from_store(args, settings) if args.referral else _from_file(args, settings)
    if not records:
        return 2
    paths = write_reports(records, args.out)
    print(f"wrote {len(records)} explanation page(s) to {args.out}", file=sys.stderr)
    print(paths[-1])
    return 0
