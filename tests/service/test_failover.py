"""Two replicas on one PostgreSQL behind nginx (``deploy/nginx.conf``), 16 clients scoring
and deciding through it, and one replica SIGKILLed (its whole process group, as the
out-of-memory killer does) and restarted on the same port while they do.

Then: no worker of the killed replica is left, the restart succeeded on the same port,
every request answered 2xx is in the store under its request id, every acknowledged
decision is there, ``triage audit verify`` passes, and every referral's linking features
equal a single-process replay of the same arrivals (``replay.py``). Loopback only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from conftest import copy_home
from pg_databases import fresh_database
from replay import divergent
from service_support import KEY, Server, at, free_port, shown, variant, with_subject
from skipping import unavailable

from serving.store import Store

pytestmark = pytest.mark.timeout(600)
REPO = Path(__file__).resolve().parents[2]
CLIENTS = 16
REFERRALS = 240
DECIDE_EVERY = 4
SUBJECTS = 24


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        unavailable(
            "nginx is not installed: `make nginx` as root, or sudo apt-get install nginx-light"
        )
    return found


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("triage_failover") as db:
        yield db.render_as_string(hide_password=False)


class Nginx:
    """``deploy/nginx.conf`` with its ports pointed at the replicas, in a prefix of its own."""

    def __init__(self, prefix: Path, a: int, b: int) -> None:
        self.port = free_port()
        conf = (REPO / "deploy" / "nginx.conf").read_text()
        for old, new in (
            ("127.0.0.1:3001", a),
            ("127.0.0.1:3002", b),
            ("127.0.0.1:8080", self.port),
        ):
            assert old in conf, f"deploy/nginx.conf: {old} expected"
            conf = conf.replace(old, f"127.0.0.1:{new}")
        for sub in ("logs", "run", "tmp"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        (prefix / "nginx.conf").write_text(conf)
        extra = "user root;" if os.geteuid() == 0 else ""
        directives = f"daemon off; pid run/nginx.pid; error_log logs/error.log; {extra}"
        cmd = [
            nginx_binary(),
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-g",
            directives,
        ]
        self.proc = subprocess.Popen(cmd, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (prefix / "logs" / "error.log").read_text()
            try:
                httpx.get(f"{self.url}/healthz", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail("nginx did not come up")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)


def sigkill_group(server: Server) -> list[int]:
    """SIGKILL the server's process group only (not the workers' own sessions); returns
    the pids of workers still alive 10 s later (there must be none)."""
    assert server.proc is not None
    workers = psutil.Process(server.proc.pid).children(recursive=True)
    assert workers, "the server has workers"
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [w for w in alive if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    for w in alive:  # never leave them behind, but the test fails
        w.kill()
    return [w.pid for w in alive]


def test_a_replica_killed_under_load_loses_nothing(trained, raw_referrals, pg_url, tmp_path):
    settings, _model, _ds, _split = trained
    env = {"TRIAGE_DATABASE_URL": pg_url}
    a = Server(copy_home(settings.home, tmp_path / "a" / "home"), env_extra=dict(env))
    b = Server(copy_home(settings.home, tmp_path / "b" / "home"), env_extra=dict(env))
    a.make_tokens()
    b.tokens = a.tokens
    with ThreadPoolExecutor(2) as pool:  # both replicas start together on one store
        list(pool.map(lambda s: s.start(), (a, b)))
    lb = Nginx(tmp_path / "nginx", a.port, b.port)

    t0 = datetime.now(UTC) - timedelta(minutes=2)  # received_at runs just ahead of decisions
    docs = [
        at(
            with_subject(variant(d, "fo"), f"subject-{i % SUBJECTS}@example.com"),
            t0 + timedelta(seconds=i),
        )
        for i, d in enumerate((raw_referrals * 2)[:REFERRALS])
    ]
    scored: list[tuple[str, str]] = []  # (referral_id, request id) of every 2xx
    acked: list[tuple[int, str]] = []  # (decision id, hash) of every acknowledged decision
    failed: list[str] = []
    lock = threading.Lock()
    next_i = iter(range(REFERRALS))
    progress = [0]

    def call(client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
        """A queue system's client: retries what a dying replica dropped."""
        for _ in range(20):
            try:
                r = client.request(method, path, **kw)
                if r.status_code < 500 and r.status_code != 429:
                    return r
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{method} {path}: no answer after 20 tries")

    def client_loop() -> None:
        scorer = httpx.Client(
            base_url=lb.url, headers={"Authorization": f"Bearer {a.tokens['scorer']}"}, timeout=60
        )
        reviewer = httpx.Client(
            base_url=lb.url, headers={"Authorization": f"Bearer {a.tokens['reviewer']}"}, timeout=60
        )
        with scorer, reviewer:
            while True:
                with lock:
                    i = next(next_i, None)
                if i is None:
                    return
                try:
                    r = call(scorer, "POST", "/score", json=docs[i])
                    assert r.status_code == 200, r.text
                    score = r.json()  # one referral: its Score
                    with lock:
                        scored.append((docs[i]["referral_id"], r.headers["X-Request-ID"]))
                    if i % DECIDE_EVERY == 0:
                        fb = {
                            "referral_id": score["referral_id"],
                            "score_id": shown(reviewer, score["referral_id"]),
                            "decision": "confirm",
                            "tier": score["tier"],
                            "viability": "package",
                            "urgency_assessed": "immediate",
                            "model_version": score["model_version"],
                        }
                        d = call(reviewer, "POST", "/feedback", json=fb)
                        assert d.status_code in (200, 201), d.text
                        rec = d.json()["decision"]
                        with lock:
                            acked.append((rec["id"], rec["hash"]))
                except AssertionError as e:
                    with lock:
                        failed.append(str(e)[:300])
                with lock:
                    progress[0] += 1

    restart: dict[str, Any] = {}

    def killer() -> None:
        while progress[0] < REFERRALS // 4:
            time.sleep(0.05)
        port = b.port
        restart["left"] = sigkill_group(b)
        b.start(port=port)  # the same port: nothing holds it any more
        restart["port"] = b.port == port

    started = time.monotonic()
    try:
        kill = threading.Thread(target=killer)
        kill.start()
        with ThreadPoolExecutor(CLIENTS) as pool:
            for f in [pool.submit(client_loop) for _ in range(CLIENTS)]:
                f.result()
        kill.join(timeout=300)
        with b.client("scorer") as direct:  # the restarted replica answers on its own
            extra = variant(docs[-1], "fo-direct")
            r = direct.post("/score", json=at(extra, t0 + timedelta(seconds=REFERRALS)))
            assert r.status_code == 200, r.text
            scored.append((extra["referral_id"], r.headers["X-Request-ID"]))
        load_s = time.monotonic() - started
    finally:
        lb.stop()
        a.stop()
        b.stop()

    assert restart.get("left") == [], "workers outlived their SIGKILLed supervisor"
    assert restart.get("port") is True
    assert failed == []
    with Store(pg_url) as store:
        lost = [(rid, req) for rid, req in scored if req not in request_ids(store, rid)]
        stored = {d.id: d.hash for d in store.decisions()}
        replayed, diverged = divergent(store)
    assert len(scored) == REFERRALS + 1 and lost == []
    assert acked and all(stored.get(i) == h for i, h in acked)
    assert replayed == REFERRALS + 1 and diverged == []
    audit = subprocess.run(
        [sys.executable, "-m", "triage", "audit", "verify"],
        env={**os.environ, "TRIAGE_HOME": str(a.home), "TRIAGE_PSEUDONYM_KEY": KEY, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    print(f"failover: {len(scored)} scored, {len(acked)} decisions, load {load_s:.0f} s")


def request_ids(store: Store, referral_id: str) -> set[str]:
    rec = store.referral(referral_id)
    return {s.request_id for s in rec.scores} if rec is not None else set()
