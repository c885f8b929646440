"""``triage demo``: the whole product on the embedded synthetic data (what ``make run`` does).

1. train on three years of synthetic referrals (generated once, cached under ``var/``),
   evaluate against the oracle and the baselines, register in MLflow, run the gate;
2. start the service and send it a week of new arrivals, as the queue system would;
3. write explanation pages for the top of the queue;
4. run the drift monitor on a window from a drifted stream (a sextortion wave);
5. print a reviewer token, the page's address and a ready ``curl`` command, and keep
   serving until Ctrl-C (``--no-serve`` stops instead, for scripted runs).

Each step is the same code as its own command; nothing here is demo-only logic.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from features.config import Settings
from triage.cli import main as triage
from triage.common import settings as load_settings

INCOMING = {"n": 1500, "seed": 2025, "start": "2025-01-01", "days": 7}
DRIFTED = {
    "n": 3000,
    "seed": 2026,
    "start": "2025-01-08",
    "days": 14,
    "scenario": "sextortion_wave",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=3000, help="service port (default 3000)")
    p.add_argument("--no-serve", action="store_true", help="stop the service at the end")
    p.add_argument("--skip-train", action="store_true", help="reuse the current champion")


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _generate(path: Path, spec: dict[str, object]) -> None:
    if path.exists():
        return
    argv = ["generate", "--out", str(path)]
    for k, v in spec.items():
        argv += [f"--{k}", str(v)]
    if triage(argv) != 0:
        raise SystemExit(f"generate failed for {path.name}")


def _start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    from triage.commands.serve import command

    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        command("127.0.0.1", port),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited early; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.terminate()
    raise SystemExit(f"the service did not become ready in 180 s; see {log}")


def _token(s: Settings, role: str, name: str) -> str:
    from serving.auth import create_token
    from serving.store import Store

    with Store(s.store_url()) as store:
        store.migrate()
        return create_token(store, role, name)  # type: ignore[arg-type]


def _send(port: int, token: str, path: Path) -> tuple[int, int, int]:
    """POST the file's referrals in batches of 100; returns (scored, degraded, rejected)."""
    docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    scored = degraded = rejected = 0
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    ) as client:
        for i in range(0, len(docs), 100):
            r = client.post("/score", json=docs[i : i + 100])
            r.raise_for_status()
            body = r.json()
            scores = body.get("scores", body) if isinstance(body, dict) else body
            scored += len(scores)
            degraded += sum(1 for x in scores if x.get("degraded"))
            rejected += len(body.get("rejected", [])) if isinstance(body, dict) else 0
    return scored, degraded, rejected


def _top_of_queue(port: int, token: str, n: int) -> list[str]:
    r = httpx.get(
        f"http://127.0.0.1:{port}/queue",
        params={"limit": n},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    r.raise_for_status()
    body = r.json()
    items = body.get("items", body) if isinstance(body, dict) else body
    return [it["referral_id"] for it in items]


def run(args: argparse.Namespace) -> int:
    s = load_settings()
    os.environ.setdefault("TRIAGE_HOME", str(s.home))
    data = s.data_dir
    data.mkdir(parents=True, exist_ok=True)
    if not args.skip_train:
        step("1. train, evaluate, register and gate the model (3 years of synthetic referrals)")
        if triage(["train", "--backtests", "1"]) != 0:
            return 1
    if not _free(args.port):
        print(f"error: port {args.port} is in use; pass --port", file=sys.stderr)
        return 2
    step("2. start the service and send it a week of new arrivals")
    incoming = data / "incoming-2025-01.jsonl"
    _generate(incoming, INCOMING)
    proc = _start_server(args.port, s.home / "logs" / "service.log")
    try:
        scorer = _token(s, "scorer", "demo-queue-system")
        reviewer = _token(s, "reviewer", "demo-reviewer")
        scored, degraded, rejected = _send(args.port, scorer, incoming)
        print(
            f"scored {scored:,} referrals through POST /score ({degraded:,} degraded, "
            f"{rejected:,} rejected)"
        )
        step("3. explanation pages for the top of the queue")
        top = _top_of_queue(args.port, reviewer, 5)
        out = s.reports_dir / "explain"
        argv = ["explain", "--out", str(out)]
        for rid in top:
            argv += ["--referral", rid]
        triage(argv)
        step(
            "4. drift: a window from a stream with a sextortion wave, against the model's reference"
        )
        drifted = data / "drifted-sextortion-wave.jsonl"
        _generate(drifted, DRIFTED)
        code = triage(["monitor", "--current", str(drifted)])
        print(
            "drift detected (exit 1): a scheduler would alert"
            if code == 1
            else f"monitor exit code {code}"
        )
        step("5. the service is up")
        base = f"http://127.0.0.1:{args.port}"
        print(f"reviewer page:  {base}/   (sign in with the reviewer token)")
        print(f"reviewer token: {reviewer}")
        print(f"scorer token:   {scorer}")
        print("try:")
        print(f"  curl -s -H 'Authorization: Bearer {reviewer}' '{base}/queue?limit=3'")
        example = data / "example-referral.json"
        example.write_text(incoming.read_text().splitlines()[0])
        print(
            f"  curl -s -H 'Authorization: Bearer {scorer}' -H 'Content-Type: application/json' "
            f"-d @{example.resolve()} {base}/score"
        )
        print(
            f"reports: {s.reports_dir.resolve()}   service log: {s.home.resolve()}/logs/service.log"
        )
        if args.no_serve:
            return 0
        print("\nserving until Ctrl-C ...", flush=True)
        proc.wait()
        return proc.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
