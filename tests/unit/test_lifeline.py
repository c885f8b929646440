"""A worker never outlives its supervisor (``serving/lifeline.py``): real processes, the
worker in a session of its own as BentoML starts it, the supervisor's group SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.timeout(60)

SUPERVISOR = textwrap.dedent(
    """
    import subprocess, sys, time
    worker = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from serving.lifeline import die_with_parent; "
         "print(die_with_parent(), flush=True); time.sleep(120)"],
        stdout=open(sys.argv[1], "w"), start_new_session=True,
    )
    print(worker.pid, flush=True)
    time.sleep(120)
    """
)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_worker_in_its_own_session_dies_with_its_killed_supervisor(tmp_path: Path) -> None:
    how = tmp_path / "how"
    sup = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(how)],
        stdout=subprocess.PIPE,
        start_new_session=True,
        text=True,
    )
    assert sup.stdout is not None
    worker = int(sup.stdout.readline())
    deadline = time.monotonic() + 30
    while not (how.exists() and how.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert how.read_text().strip() in ("prctl", "watchdog")
    assert os.getpgid(worker) != os.getpgid(sup.pid)  # out of reach of the group's signal
    os.killpg(sup.pid, signal.SIGKILL)
    sup.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not gone(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = not gone(worker)
    if alive:
        os.kill(worker, signal.SIGKILL)  # never leave it behind
    assert not alive, "the worker outlived its SIGKILLed supervisor"


def test_serve_refuses_a_worker_count_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from triage.commands import serve

    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    for n in (0, serve.MAX_WORKERS + 1):
        assert serve.run(p.parse_args(["--workers", str(n)])) == 2
        assert "--workers: must be between 1 and" in capsys.readouterr().err
