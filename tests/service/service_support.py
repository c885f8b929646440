"""Helpers for the service tests: a real server process, and referral variants."""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from features.config import Settings
from features.contract import Score
from serving.auth import ROLES, create_token
from serving.store import Store

KEY = "test-key-0123456789abcdef"  # the `trained` fixture's pseudonym key
START_TIMEOUT_S = 240  # a shared, loaded 2-core host can take minutes to import it all


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One ``triage serve`` process group; ``url``, ``tokens`` by role and its log files."""

    home: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    workers: list[psutil.Process] = field(default_factory=list)  # see _remember_workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home, pseudonym_key=KEY, **self._db())

    def _db(self) -> dict[str, Any]:
        url = self.env_extra.get("TRIAGE_DATABASE_URL")
        return {"database_url": url} if url else {}

    def log_files(self) -> list[Path]:
        return sorted((self.home.parent / f"{self.home.name}-logs").glob("*.log"))

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_files())

    def start(self, port: int | None = None) -> Server:
        """Start (again: on ``port``, e.g. the one a killed server held)."""
        self.port = port or free_port()
        self.starts += 1
        logs = self.home.parent / f"{self.home.name}-logs"
        logs.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "TRIAGE_HOME": str(self.home),
            "TRIAGE_PSEUDONYM_KEY": KEY,
            "BENTOML_HOME": str(self.home.parent / f"{self.home.name}-bentoml"),
            "DO_NOT_TRACK": "true",
            "BENTOML_DO_NOT_TRACK": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            **self.env_extra,
        }
        out = (logs / f"start{self.starts}.out.log").open("wb")
        err = (logs / f"start{self.starts}.err.log").open("wb")
        cmd = [sys.executable, "-m", "triage", "serve", "--host", "127.0.0.1", "--port"]
        self.proc = subprocess.Popen(
            [*cmd, str(self.port)], env=env, stdout=out, stderr=err, start_new_session=True
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited ({self.proc.returncode}):\n{self.logs()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        pytest.fail(f"server not ready in {START_TIMEOUT_S}s:\n{self.logs()[-3000:]}")

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._remember_workers()
            os.killpg(self.proc.pid, sig)

    def _remember_workers(self) -> None:
        """BentoML starts its workers in sessions of their own, out of reach of the
        server's process group: a SIGKILLed server would leave them running (each holding
        a port and ~400 MB) after the suite. Note them, to end them in ``_reap_group``."""
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)  # type: ignore[union-attr]
        except psutil.Error:
            return
        self.workers += kids

    def kill(self) -> None:
        """SIGKILL the server's process group: no shutdown hooks, no flushing."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
        self._reap_group()

    def stop(self) -> None:
        self._signal_group(signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._reap_group()

    def _reap_group(self) -> None:
        """Children of a killed parent may outlive it for a moment; end the group's rest,
        and the workers that live in sessions of their own."""
        if self.proc is None:
            return
        for worker in self.workers:
            with contextlib.suppress(psutil.Error):
                worker.kill()  # psutil checks the pid still names the same process
        self.workers = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def client(self, role: str | None = None, token: str | None = None) -> httpx.Client:
        token = token or (self.tokens[role] if role else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def person_token(self, role: str, name: str, hours: float | None = None) -> str:
        """A further token, for a named person."""
        with Store(self.settings.store_url()) as store:
            return create_token(store, role, name, hours=hours)  # type: ignore[arg-type]

    def make_tokens(self) -> None:
        with Store(self.settings.store_url()) as store:
            store.migrate()
            self.tokens = {role: create_token(store, role, f"test-{role}") for role in ROLES}


def shown(client: httpx.Client, referral_id: str) -> int:
    """The id of the score a reviewer is shown for ``referral_id`` (its latest)."""
    r = client.get(f"/referrals/{referral_id}")
    assert r.status_code == 200, r.text
    return int(r.json()["scores"][-1]["id"])


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def variant(doc: dict[str, Any], prefix: str, **changes: Any) -> dict[str, Any]:
    """A copy of ``doc`` under a new unique id, with top-level fields replaced."""
    out = copy.deepcopy(doc)
    out["referral_id"] = uid(prefix)
    out.update(changes)
    return out


def at(doc: dict[str, Any], when: datetime) -> dict[str, Any]:
    doc["received_at"] = when.isoformat()
    return doc


def shifted(when: datetime, hours: float) -> datetime:
    return when + timedelta(hours=hours)


def with_subject(doc: dict[str, Any], value: str, ip: str | None = None) -> dict[str, Any]:
    """``doc`` with one subject carrying a known raw screen name (and IP)."""
    subject: dict[str, Any] = {"identifiers": [{"kind": "screen_name", "value": value}]}
    if ip is not None:
        subject["ip_events"] = [{"ip": ip, "event": "login"}]
    doc["subjects"] = [subject]
    return doc


def check_score(body: dict[str, Any], version: str, degraded: bool) -> Score:
    """The answer is a contract §4 score from ``version``; returns it parsed."""
    score = Score.model_validate(body)
    assert score.model_version == version
    assert score.degraded is degraded
    assert score.needs_confirmation is True
    assert abs(sum(score.urgency.values()) - 1) < 1e-3
    assert abs(sum(score.viability.values()) - 1) < 1e-3
    return score
