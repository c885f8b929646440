"""``triage policy``: the operating point (``docs/operating-policy.md``).

* ``show [--model REF]``: the operating policy a model carries (caps, targets, staffing,
  fitted thresholds); without a registered model, the packaged default file.
* ``curve [--model REF] [--data FILE]``: the workload–recall curve on the test window of
  the embedded stream (or the whole ``--data`` file), as a table with 95 % intervals, and
  where the current operating point sits on it.
* ``set (--file POLICY.toml | --immediate-share X [--high-share Y] [--version V])``:
  refit the thresholds of ``--model`` (default champion) for the new caps without
  retraining, register the result as ``challenger`` and run the promotion gate. Exit 0
  promoted, 3 rejected, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="the operating policy a model carries")
    show.add_argument("--model", default="champion", help="alias or version (default champion)")
    curve = sub.add_parser("curve", help="the workload-recall curve on the test window")
    curve.add_argument("--model", default="champion", help="alias or version (default champion)")
    curve.add_argument("--data", type=Path, help="labelled JSON Lines (default: embedded stream)")
    curve.add_argument("--boot", type=int, default=200, help="bootstrap resamples (default 200)")
    put = sub.add_parser("set", help="a new operating point, through the promotion gate")
    put.add_argument("--model", default="champion", help="the model to refit (default champion)")
    put.add_argument("--file", type=Path, help="an operating policy TOML file")
    put.add_argument("--immediate-share", type=float, help="cap of immediate beyond the floor")
    put.add_argument("--high-share", type=float, help="cap of high beyond the floor")
    put.add_argument("--version", help="version of the new policy (with share flags)")
    put.add_argument("--data", type=Path, help="labelled JSON Lines to judge on (its test window)")
    put.add_argument(
        "--within-days",
        type=float,
        help="share of calibration days the caps must hold on (default: as the model was fitted)",
    )


def run(args: argparse.Namespace) -> int:
    return {"show": _show, "curve": _curve, "set": _set}[args.action](args)


def _load(ref: str) -> Any:
    from models import registry
    from models.manifest import ModelIncompatible
    from triage.common import settings

    try:
        return registry.load(settings(), ref, num_threads=2)
    except (registry.ModelNotFound, ModelIncompatible) as e:
        print(f"error: --model: {e}", file=sys.stderr)
        return None


def _show(args: argparse.Namespace) -> int:
    from models import registry
    from models.operating_policy import DEFAULT_POLICY_FILE, load_policy
    from triage.common import settings

    try:
        registry.resolve(settings(), args.model)
    except registry.ModelNotFound:
        print(f"no registered model for {args.model!r}: the packaged default policy")
        print(f"# {DEFAULT_POLICY_FILE}")
        print(load_policy().to_toml())
        return 0
    model = _load(args.model)
    if model is None:
        return 2
    p = model.policy
    print(f"model v{model.version}: operating policy {p.policy_version} (digest {p.policy_digest})")
    print(
        f"  immediate: P(immediate) >= {p.t_immediate:.5f}; the model adds at most "
        f"{p.immediate_share:.1%} of a day's arrivals beyond the safety floor"
    )
    print(
        f"  high:      P(immediate)+P(high) >= {p.t_high:.5f}; at most {p.high_share:.1%} "
        "beyond the floor and the immediate tier"
    )
    print(f"  fitted to hold on {p.within_days:.0%} of the calibration window's days")
    if model.operating is not None:
        print(f"\n# the policy file carried in the artefact\n{model.operating.to_toml()}")
    return 0


def _data(model: Any, path: Path | None, whole: bool) -> tuple[Any, Any, Path] | None:
    """The labelled data with the store's reviewer labels merged (as ``triage train`` and
    ``triage promote`` read it), the window judged and the file: ``--data`` (whole when
    ``whole``, as ``triage evaluate`` reads it), else the embedded stream's test window."""
    from training.data import load_cached
    from training.embedded import embedded_data
    from training.fit import say
    from training.pipeline import gate_data_mask
    from triage.commands.train import confirmed_labels
    from triage.common import pseudonymiser, report_rejected, settings

    s = settings()
    if path is not None and not path.exists():
        print(f"error: --data: {path} does not exist", file=sys.stderr)
        return None
    src = path or embedded_data(s, progress=say)
    extra = confirmed_labels(s)  # the reviewer labels training and `triage promote` see
    ds = load_cached(src, pseudonymiser(s), s.data_dir / "cache", extra, progress=say)
    report_rejected(ds.rejected)
    if len(ds) == 0:
        print("error: no labelled referrals", file=sys.stderr)
        return None
    fractions = tuple(model.manifest.training.get("config", {}).get("fractions", (0.7, 0.15, 0.15)))
    mask = None if path is not None and whole else gate_data_mask(ds, fractions)[0]  # type: ignore[arg-type]
    return ds, mask, src


def _curve(args: argparse.Namespace) -> int:
    import numpy as np

    from training.evaluate import operating_figures, operating_summary, orderings, window
    from training.workload import curve_table

    model = _load(args.model)
    if model is None:
        return 2
    got = _data(model, args.data, whole=True)
    if got is None:
        return 2
    ds, mask, _ = got
    m = np.ones(len(ds), bool) if mask is None else mask
    feats = window(ds, m)
    ou = None if ds.oracle_urgency is None else ds.oracle_urgency[m]
    pred = model.predict(feats)
    prios = orderings(model, feats, ou, pred)
    op, curve = operating_figures(
        model, ds.y_urgency[m], feats.meta["received_at"], ou, pred, prios, n_boot=args.boot
    )
    print(
        f"model v{model.version}, policy {op['policy_version']}, {curve['n']:,} referrals "
        f"({curve['positives']['immediate']:,} immediate, "
        f"{curve['positives']['immediate_or_high']:,} immediate or high)"
    )
    for target in ("immediate", "immediate_or_high"):
        print(f"\nrecall of {target.replace('_', ' ')} [95 % interval] if the tier held the top:")
        print(curve_table(curve, target).to_string())
    print("\noperating point on this window:")
    print(operating_summary(op))
    return 0


def _new_policy(args: argparse.Namespace, current: Any) -> Any:
    from models.operating_policy import PolicyFileError, load_policy, validate_policy

    if args.file is not None:
        if args.immediate_share is not None or args.high_share is not None:
            raise PolicyFileError("--file: give either a policy file or share flags, not both")
        return load_policy(args.file)
    if args.immediate_share is None and args.high_share is None:
        raise PolicyFileError("--file: give a policy file or --immediate-share/--high-share")
    base = current or load_policy()
    imm = base.immediate_share if args.immediate_share is None else args.immediate_share
    high = base.high_share if args.high_share is None else args.high_share
    version = args.version or f"{base.version}-i{imm * 100:g}-h{high * 100:g}"
    data = {**base.model_dump(), "version": version, "immediate_share": imm, "high_share": high}
    return validate_policy(data, "--immediate-share/--high-share")


def _set(args: argparse.Namespace) -> int:
    from models import registry
    from models.operating_policy import PolicyFileError
    from training.fit import say
    from training.repolicy import NoCalibrationScores, set_policy
    from triage.common import settings

    model = _load(args.model)
    if model is None:
        return 2
    try:
        operating = _new_policy(args, model.operating)
    except PolicyFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.within_days is not None and not 0 < args.within_days <= 1:
        print("error: --within-days: must be in (0, 1]", file=sys.stderr)
        return 2
    got = _data(model, args.data, whole=False)
    if got is None:
        return 2
    ds, mask, src = got
    s = settings()
    resolved = registry.resolve(s, str(model.version))
    tags = {
        "data_path": str(src.resolve()),
        "data_digest": ds.digest,
        "fractions": resolved.tags.get("fractions", "[0.7, 0.15, 0.15]"),
    }
    try:
        version, decision, _ = set_policy(
            s, model, operating, ds, mask, tags, progress=say, within_days=args.within_days
        )
    except NoCalibrationScores as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"registered v{version} (policy {operating.version}) as challenger")
    print(decision.summary())
    return decision.exit_code
