"""``triage generate --world``: the hard world is selectable and labelled like the embedded one."""

from __future__ import annotations

import json

import pytest

from triage.cli import main


def test_generate_writes_the_hard_world_with_its_oracle(tmp_path):
    out = tmp_path / "hard.jsonl"
    args = ["generate", "--world", "hard", "--n", "50", "--start", "2023-01-01", "--days", "20"]
    assert main([*args, "--labels", "--out", str(out)]) == 0
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(docs) == 50 and all("-hard-" in d["referral_id"] for d in docs)
    assert all(abs(sum(d["_oracle"]["urgency"].values()) - 1) < 1e-4 for d in docs)


def test_generate_refuses_an_unknown_world(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "generate",
                "--world",
                "harder",
                "--start",
                "2023-01-01",
                "--days",
                "2",
                "--out",
                str(tmp_path / "x.jsonl"),
            ]
        )
    assert "invalid choice" in capsys.readouterr().err
