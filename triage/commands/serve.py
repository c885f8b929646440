"""``triage serve [--host H] [--port N] [--workers N]``: run the scoring service (§6).

Replaces this process with ``bentoml serve serving.service:TriageService`` (same process
id, so signals reach the server directly). Everything else comes from the ``TRIAGE_*``
environment, which the server inherits: the home with the model registry and the store,
``TRIAGE_DATABASE_URL``, the pseudonym key. The default host is loopback: exposing the
service is a deliberate choice (``--host 0.0.0.0``), behind TLS. ``--workers N`` runs N
worker processes (``TRIAGE_WORKERS``); replicas on one PostgreSQL: ``docs/deployment.md``.
"""

from __future__ import annotations

import argparse
import os
import sys

from triage.common import settings

SERVICE = "serving.service:TriageService"
MAX_WORKERS = 64


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    p.add_argument("--port", type=int, default=3000, help="port to listen on (default: 3000)")
    p.add_argument(
        "--workers", type=int, default=1, help="worker processes (default: 1; at most 64)"
    )


def command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        print("error: --port: must be between 1 and 65535", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= MAX_WORKERS:
        print(f"error: --workers: must be between 1 and {MAX_WORKERS}", file=sys.stderr)
        return 2
    os.environ["TRIAGE_WORKERS"] = str(args.workers)
    home = settings().home.resolve()
    print(
        f"serving on http://{args.host}:{args.port} (home {home}; OpenAPI at /docs.json; "
        "tokens: `triage token create --role R`)",
        file=sys.stderr,
        flush=True,
    )
    argv = command(args.host, args.port)
    os.execv(argv[0], argv)
    return 0  # not reached
