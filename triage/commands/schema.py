"""``triage schema``: print the referral's JSON Schema."""

from __future__ import annotations

import argparse
import json

from features.contract import Feedback, Score, referral_json_schema


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--what",
        choices=["referral", "score", "feedback"],
        default="referral",
        help="which document's schema to print (default: referral)",
    )


def run(args: argparse.Namespace) -> int:
    if args.what == "referral":
        schema = referral_json_schema()
    else:
        schema = (Score if args.what == "score" else Feedback).model_json_schema()
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0
