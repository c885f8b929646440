"""Hostile XML is refused per file, the batch goes on, and `triage ingest` writes pseudonyms only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from xml_support import FIXTURE_FILES, KNOWN_LIST

from features.pseudonyms import is_pseudonym
from features.xml_adapter import XmlLimits, ingest_xml_files, read_referral_file
from triage.cli import main

MARKER = "LOCAL-FILE-MARKER-7f3a"
GOOD = len(FIXTURE_FILES)
LOL = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))


def hostile_files(secret: Path) -> dict[str, str]:
    """name -> XML text of each hostile case; the local ``secret`` file holds MARKER."""
    uri = secret.as_uri()
    body = (
        "<report><incidentSummary><incidentType>Misleading Domain Name</incidentType>"
        "<platform>{}</platform><incidentDateTime>2024-01-01T00:00:00Z</incidentDateTime>"
        "</incidentSummary><reporter><reportingPerson/></reporter></report>"
    )
    attrs = 'receivedAt="2024-01-02T00:00:00Z" source="ncmec"'
    return {
        "billion_laughs.xml": f'<?xml version="1.0"?><!DOCTYPE referral [<!ENTITY lol0 "lol">{LOL}]>'
        f'<referral id="H-1" {attrs}>{body.format("&lol9;")}</referral>',
        "xxe.xml": f'<?xml version="1.0"?><!DOCTYPE referral [<!ENTITY xxe SYSTEM "{uri}">]>'
        f'<referral id="H-2" {attrs}>{body.format("&xxe;")}</referral>',
        "xxe_parameter.xml": f'<!DOCTYPE referral [<!ENTITY % p SYSTEM "{uri}"> %p;]>'
        f'<referral id="H-3" {attrs}>{body.format("x")}</referral>',
        "external_dtd.xml": f'<!DOCTYPE referral SYSTEM "{uri}">'
        f'<referral id="H-4" {attrs}>{body.format("x")}</referral>',
        "malformed.xml": f'<referral id="H-5" {attrs}><report><incidentSummary></report>',
        "wrong_root.xml": body.format("x"),
        "deep.xml": f'<referral id="H-7" {attrs}>' + "<a>" * 200 + "</a>" * 200 + "</referral>",
        "undeclared_entity.xml": f'<referral id="H-8" {attrs}>{body.format("&xxe;")}</referral>',
    }


def batch_dir(tmp: Path, extra: dict[str, str | bytes]) -> Path:
    d = tmp / "in"
    d.mkdir()
    for p in FIXTURE_FILES:
        shutil.copy(p, d / p.name)
    for name, content in extra.items():
        (d / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return d


def secret_file(tmp: Path) -> Path:
    secret = tmp / "secret.txt"
    secret.write_text(MARKER)
    return secret


@pytest.mark.parametrize("case", sorted(hostile_files(Path("/placeholder"))))
def test_each_hostile_file_is_refused_and_the_batch_goes_on(
    case: str, tmp_path: Path, pseudonymiser: Any
) -> None:
    d = batch_dir(tmp_path, {case: hostile_files(secret_file(tmp_path))[case]})
    result = ingest_xml_files(sorted(d.glob("*.xml")), pseudonymiser)
    assert result.files_read == GOOD + 1 and len(result.good) == GOOD
    (bad,) = result.rejected
    assert bad.file == case and bad.problems
    assert MARKER not in json.dumps(bad.as_dict())


def test_oversized_file_is_refused_unread(tmp_path: Path, pseudonymiser: Any) -> None:
    big = b"<referral>" + b" " * (XmlLimits.max_bytes + 1) + b"</referral>"
    d = batch_dir(tmp_path, {"huge.xml": big})
    result = ingest_xml_files(sorted(d.glob("*.xml")), pseudonymiser)
    assert [r.file for r in result.rejected] == ["huge.xml"] and len(result.good) == GOOD
    assert "limit" in result.rejected[0].problems[0].reason
    small = XmlLimits(max_bytes=200)
    with pytest.raises(Exception, match="200-byte limit"):
        read_referral_file(FIXTURE_FILES[0], limits=small)


def test_too_many_elements_is_refused(tmp_path: Path, pseudonymiser: Any) -> None:
    wide = "<referral>" + "<a/>" * 50 + "</referral>"
    d = batch_dir(tmp_path, {"wide.xml": wide})
    result = ingest_xml_files(
        sorted(d.glob("*.xml")), pseudonymiser, limits=XmlLimits(max_elements=40)
    )
    assert "wide.xml" in [r.file for r in result.rejected]


def raw_values(paths: list[Path]) -> set[str]:
    """Every identifier, IP and group identifier in the fixtures, as written there."""
    out: set[str] = set()
    for p in paths:
        doc = read_referral_file(p)
        for s in doc["subjects"]:
            out |= {i["value"] for i in s["identifiers"]} | {e["ip"] for e in s["ip_events"]}
            out |= {s["group_identifier"]} - {None}
    return out


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", "k" * 32)
    monkeypatch.delenv("TRIAGE_KNOWN_HASH_FILES", raising=False)
    return tmp_path


def test_cli_writes_pseudonymised_referrals_only(env: Path, capsys: pytest.CaptureFixture) -> None:
    d, out = batch_dir(env, {}), env / "out" / "referrals.jsonl"
    rc = main(["ingest", str(d), "--out", str(out), "--known-hashes", str(KNOWN_LIST)])
    assert rc == 0
    text = out.read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == GOOD
    checked = 0
    for row in rows:
        for s in row["subjects"]:
            values = [i["value"] for i in s["identifiers"]] + [e["ip"] for e in s["ip_events"]]
            values += [s["group_identifier"]] if s["group_identifier"] is not None else []
            assert all(is_pseudonym(v) for v in values)
            checked += len(values)
    assert checked > 20, "the fixtures hold identifiers: an empty check proves nothing"
    raw = raw_values(FIXTURE_FILES)
    assert len(raw) > 20
    leaked = [v for v in raw if v in text]
    assert leaked == []
    for fragment in ("@example.com", "192.0.2.", "198.51.100.", "203.0.113.", "2001:db8", "555-01"):
        assert fragment not in text
    assert "pn1:" in text
    by_id = {r["referral_id"]: r for r in rows}
    assert [f["hash_match"] for f in by_id["XT-HASH-0001"]["files"]] == [
        "known",
        "none",
        "unchecked",
        "known",
    ]
    assert f"{GOOD} files read, {GOOD} referrals written" in capsys.readouterr().out


def test_cli_reports_bad_files_and_keeps_the_good(env: Path, capsys: pytest.CaptureFixture) -> None:
    dup = FIXTURE_FILES[0].read_bytes()
    hostile = hostile_files(secret_file(env))
    d = batch_dir(env, {**hostile, "zz_duplicate.xml": dup})
    out, errors = env / "referrals.jsonl", env / "errors.jsonl"
    rc = main(["ingest", str(d), "--out", str(out), "--errors", str(errors)])
    assert rc == 1
    assert len(out.read_text().splitlines()) == GOOD
    rejected = [json.loads(line) for line in errors.read_text().splitlines()]
    expected = sorted([*hostile, "zz_duplicate.xml"])
    assert [r["file"] for r in rejected] == expected
    assert all(r["errors"] and {"path", "reason"} <= r["errors"][0].keys() for r in rejected)
    dup_errors = next(r for r in rejected if r["file"] == "zz_duplicate.xml")["errors"]
    assert dup_errors == [{"path": "referral_id", "reason": "duplicate referral_id in this batch"}]
    captured = capsys.readouterr()
    assert f"{GOOD + len(expected)} files read, {GOOD} referrals written" in captured.out
    assert "rejected xxe.xml" in captured.err
    everything = out.read_text() + errors.read_text() + captured.out + captured.err
    assert MARKER not in everything


def test_cli_refuses_a_missing_directory(env: Path) -> None:
    assert main(["ingest", str(env / "nope"), "--out", str(env / "o.jsonl")]) == 2


def test_cli_refuses_a_malformed_hash_list(env: Path) -> None:
    bad = env / "bad.txt"
    bad.write_text("zzzz\n")
    d = batch_dir(env, {})
    assert main(["ingest", str(d), "--out", str(env / "o.jsonl"), "--known-hashes", str(bad)]) == 2
