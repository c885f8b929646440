"""``triage``: the command line (``contract.md`` §7).

Each sub-command lives in its own module under ``triage.commands`` exposing
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only
when their command runs, so ``triage --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

COMMANDS: dict[str, str] = {
    "schema": "print the referral's JSON Schema",
    "generate": "write synthetic referrals (JSON Lines or XML)",
    "ingest": "read CyberTipline XML referrals into JSON Lines",
    "features": "build the feature frame for a referral file and summarise it",
    "train": "train the triage model and log it to MLflow",
    "evaluate": "evaluate a registered model on a labelled file",
    "promote": "promote the challenger to champion if it passes the gate",
    "score": "score a JSON Lines file with a registered model",
    "serve": "run the scoring service",
    "token": "create bearer tokens for the service",
    "audit": "verify the hash chains (decisions, access, case events)",
    "explain": "write explanation reports for reviewers",
    "monitor": "compare a recent window with the model's reference (drift)",
    "outcomes": "import outcome reports from the police of jurisdiction; verify their chain",
    "agreement": "agreement of blind second reviews with first reviews (anchoring, intervals)",
    "loop": "simulate deploy -> review -> retrain cycles, with and without label safeguards",
    "demo": "all of it on the embedded synthetic data",
    "policy": "the operating point: show the workload-recall curve, set the tier caps",
    "cases": "group a file's referrals into cases and propose routes",
}


def _quiet_third_parties() -> None:
    from features.process_env import set_process_env

    set_process_env()  # OMP_WAIT_POLICY and no telemetry, before any library loads


def _module(name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"triage.commands.{name}")


def main(argv: list[str] | None = None) -> int:
    _quiet_third_parties()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="triage", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    available = {}
    for name, help_text in COMMANDS.items():
        try:
            spec = importlib.util.find_spec(f"triage.commands.{name}")
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        available[name] = help_text
        sub.add_parser(name, help=help_text, add_help=False)
    # only the chosen command's module is imported and allowed to define its arguments
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen in available:
        p = argparse.ArgumentParser(prog=f"triage {chosen}", description=available[chosen])
        mod = _module(chosen)
        mod.add_arguments(p)
        rest = argv[argv.index(chosen) + 1 :]
        args = p.parse_args(rest)
        return int(mod.run(args) or 0)
    parser.parse_args(argv)
    parser.print_help()
    return 0 if not argv else 2


if __name__ == "__main__":
    sys.exit(main())
