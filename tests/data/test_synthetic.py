"""The synthetic referral stream: valid, deterministic, calibrated, fake, and drifting.

One 100k baseline stream (seed 1) is generated once per module and shared by the checks
that need its size (shares within two points, related-referral share, purity); everything
else uses small streams or the array simulation, which is much cheaper than documents.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from features.ingest import parse_documents, read_jsonl
from training.synthetic import (
    HISTORY_START,
    SCENARIOS,
    default_n,
    generate,
    history_days,
    simulate,
)
from training.synthetic import oracle as orc
from training.synthetic.population import N_BASE, platforms

START = date(2019, 1, 1)
TARGETS = {
    "viability": {"package": 0.114, "lead": 0.63, "unactionable": 0.256},
    "urgency": {"immediate": 0.01, "high": 0.09, "routine": 0.90},
}
LINK_KINDS = {"email", "phone", "screen_name", "esp_user_id", "profile_url", "device_id"}
DOC_NETS = [
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    """A year of referrals. How fast it is generated is measured in ``bench/`` (features)."""
    return generate(100_000, 1, START, 365, labels=True)


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    return simulate(100_000, 1, START, 365)


def _subjects(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc.get("subjects") or []


def _related(docs: list[dict[str, Any]]) -> np.ndarray:
    """Does a referral share a linkable identifier with an earlier one (raw values)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for d in docs:
        keys = {
            (i["kind"], i["value"].casefold())
            for s in _subjects(d)
            for i in s.get("identifiers") or []
            if i["kind"] in LINK_KINDS
        }
        out.append(bool(keys & seen))
        seen |= keys
    return np.array(out)


def _labels(docs: list[dict[str, Any]], what: str) -> np.ndarray:
    return np.array([d["outcome"][what] for d in docs])


# --- validity, determinism, format ---------------------------------------------------------


def test_everything_validates(docs: list[dict[str, Any]], pseudonymiser) -> None:  # type: ignore[no-untyped-def]
    sample = docs[::8]  # every 8th of 100k: all producers and shapes, a few seconds
    batch = parse_documents(sample, pseudonymiser, labels=True)
    assert not batch.rejected, [r.as_dict() for r in batch.rejected[:3]]
    assert len(batch.good) == len(sample)
    assert all(g.outcome is not None and g.oracle is not None for g in batch.good)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_validates(scenario: str, pseudonymiser) -> None:  # type: ignore[no-untyped-def]
    start, days = (
        (HISTORY_START, history_days()) if scenario == "history" else (date(2024, 1, 1), 90)
    )
    docs = generate(1500, 2, start, days, scenario, labels=True)
    batch = parse_documents(docs, pseudonymiser, labels=True)
    assert not batch.rejected, [r.as_dict() for r in batch.rejected[:3]]


def test_deterministic() -> None:
    a = json.dumps(generate(800, 7, date(2023, 3, 1), 60, "sextortion_wave", labels=True))
    b = json.dumps(generate(800, 7, date(2023, 3, 1), 60, "sextortion_wave", labels=True))
    c = json.dumps(generate(800, 8, date(2023, 3, 1), 60, "sextortion_wave", labels=True))
    assert a == b
    assert a != c


def test_sorted_with_mixed_offsets_and_producer_styles(docs: list[dict[str, Any]]) -> None:
    times = [datetime.fromisoformat(d["received_at"]) for d in docs[:20_000]]
    assert all(x <= y for x, y in zip(times, times[1:], strict=False))
    offsets = Counter(d["received_at"][19:] for d in docs)
    assert {"Z", "+00:00", "-05:00"} <= set(offsets) and len(offsets) >= 4
    assert sum("narrative" not in d for d in docs) > 1000  # omitted entirely
    assert sum("narrative" in d and d["narrative"] is None for d in docs) > 1000  # null
    assert len({len(d) for d in docs}) > 3


# --- calibration to the public figures -----------------------------------------------------


def test_outcome_shares_match_targets(docs: list[dict[str, Any]]) -> None:
    for what, targets in TARGETS.items():
        got = Counter(_labels(docs, what))
        for cls, share in targets.items():
            assert abs(got[cls] / len(docs) - share) < 0.02, (what, cls, got[cls] / len(docs))


def test_source_mix_batched_and_escalation(docs: list[dict[str, Any]]) -> None:
    n = len(docs)
    src = Counter(d["source"] for d in docs)
    assert 0.75 < src["ncmec"] / n < 0.85 and src["industry"] > 0.03 * n
    esc = sum(bool(d.get("escalation_reason")) for d in docs) / n
    assert 0.003 <= esc <= 0.01
    batched = [d for d in docs if d.get("batched")]
    assert 0.01 < len(batched) / n < 0.1
    assert np.mean(_labels(batched, "viability") == "unactionable") > 0.8
    assert np.mean(_labels(batched, "urgency") == "routine") > 0.9
    prio = defaultdict(list)
    for d in docs:
        prio[d.get("source_priority")].append(d["outcome"]["urgency"] == "immediate")
    assert set(prio) <= {None, "E", "1", "2", "3"}
    assert np.mean(prio["E"]) > 5 * np.mean(prio["3"])  # informative, imperfect
    assert np.mean(prio["E"]) < 0.9


def test_related_share_and_repeat_suspects_are_riskier(docs: list[dict[str, Any]]) -> None:
    related = _related(docs)
    assert 0.15 <= related.mean() <= 0.30
    urgent = _labels(docs, "urgency") != "routine"
    assert urgent[related].mean() > 1.4 * urgent[~related].mean()


def test_oracle_sums_to_one_and_agrees_with_outcomes(docs: list[dict[str, Any]]) -> None:
    for what in ("urgency", "viability"):
        p = np.array([list(d["_oracle"][what].values()) for d in docs])
        assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
        classes = list(docs[0]["_oracle"][what])
        y = _labels(docs, what)
        for k, cls in enumerate(classes):
            freq = (y == cls).mean()
            se = np.sqrt(p[:, k].mean() * (1 - p[:, k].mean()) / len(y))
            assert abs(p[:, k].mean() - freq) < 4 * se + 1e-4, (what, cls)
    # calibrated where it matters: the referrals the oracle ranks highest
    p_imm = np.array([d["_oracle"]["urgency"]["immediate"] for d in docs])
    top = np.argsort(-p_imm)[:2000]
    got = (_labels(docs, "urgency")[top] == "immediate").sum()
    want = p_imm[top].sum()
    assert abs(got - want) < 4 * np.sqrt(want) + 5


def test_decision_lag_follows_urgency(docs: list[dict[str, Any]]) -> None:
    hours = defaultdict(list)
    for d in docs[:30_000]:
        lag = datetime.fromisoformat(d["outcome"]["decided_at"]) - datetime.fromisoformat(
            d["received_at"]
        )
        hours[d["outcome"]["urgency"]].append(lag.total_seconds() / 3600)
    med = {k: float(np.median(v)) for k, v in hours.items()}
    assert med["immediate"] < 12 < 24 < med["high"] < med["routine"]


# --- nothing real: identifiers, free text, platforms ----------------------------------------

_EMAIL = re.compile(r"^[a-z0-9._-]+@example\.(com|org|net)$")
_PHONE = re.compile(r"^\+1-[2-9]\d\d-555-01\d\d$")
_PLACEHOLDER = re.compile(r"^Synthetic (escalation note|narrative) \d+$")


def _check_value(kind: str, value: str) -> None:
    if kind == "email":
        assert _EMAIL.match(value), kind
    elif kind == "phone":
        assert _PHONE.match(value), kind
    elif kind == "profile_url":
        assert re.match(r"^https://[a-z]+\.example\.net/u/\d+$", value), kind
    elif kind == "ip":
        addr = ipaddress.ip_address(value)
        assert any(addr in net for net in DOC_NETS), kind


def test_identifiers_are_fake_and_free_text_is_placeholder(docs: list[dict[str, Any]]) -> None:
    names = set(platforms().names)
    fictional = re.compile(
        r"^(Example|Sample|Demo|Mock|Fictio|Placeholder|Dummy|Pretend|Imaginary|Synthetic|"
        r"Notreal|Testbed|Madeup|Faux|Lorem)[A-Z][a-z]+$"
    )
    assert all(fictional.match(n) for n in names)
    kinds = Counter()
    for d in docs:
        for key in ("escalation_reason", "narrative"):
            if d.get(key) is not None:
                assert _PLACEHOLDER.match(d[key])
        assert d["incident"].get("platform") in names | {None}
        for s in _subjects(d):
            for i in s.get("identifiers") or []:
                _check_value(i["kind"], i["value"])
                kinds[i["kind"]] += 1
            for e in s.get("ip_events") or []:
                _check_value("ip", e["ip"])
                kinds["ip"] += 1
            if s.get("group_identifier"):
                assert s["group_identifier"].startswith("group-")
    assert all(kinds[k] > 100 for k in (*LINK_KINDS, "display_name", "ip"))


# --- the oracle: learnable, not decided by one field, not the safety rules ------------------


def _fields(d: dict[str, Any], related: bool) -> dict[str, object]:
    """One value per observable field (a reviewer's view, bucketed where numeric)."""
    inc, files = d["incident"], d.get("files") or []
    subj = _subjects(d)
    s0 = subj[0] if subj else {}
    victims, recips = d.get("victims") or [], d.get("recipients") or []
    out: dict[str, object] = {
        "source": d["source"],
        "priority": d.get("source_priority"),
        "escalated": bool(d.get("escalation_reason")),
        "type": inc["type"],
        "channel": inc.get("channel", "unknown"),
        "platform": inc.get("platform"),
        "batched": bool(d.get("batched")),
        "bsi": d.get("bsi_included", False),
        "narrative": d.get("narrative") is not None,
        "n_files": min(len(files), 5),
        "classification_a": any((f.get("classification") or "")[:1] == "A" for f in files),
        "n_victims": min(len(victims), 3),
        "n_recipients": min(len(recips), 2),
        "youngest_victim": min(
            (v["age"] for v in victims if v.get("age") is not None), default=None
        ),
        "victim_band": min((v.get("age_band", "unknown") for v in victims), default=None),
        "victim_unidentified": any(v.get("identified") is False for v in victims),
        "n_subjects": min(len(subj), 3),
        "prior_reports": min(s0.get("prior_reports", 0), 5),
        "known_offender": s0.get("known_offender"),
        "access": s0.get("access_to_children"),
        "n_ip": min(len(s0.get("ip_events") or []), 4),
        "country": (s0.get("location") or {}).get("country"),
        "region": (s0.get("location") or {}).get("region"),
        "related": related,
    }
    for a in ("sextortion", "csam_solicitation", "minor_to_minor", "spam", "sadistic_exploitation"):
        out[f"ann_{a}"] = a in (inc.get("annotations") or [])
    for h in ("known", "similar", "none", "unchecked"):
        out[f"hash_{h}"] = any(f.get("hash_match", "unchecked") == h for f in files)
    fann = {a for f in files for a in f.get("annotations") or []}
    for a in (
        "live_streaming",
        "physical_harm",
        "infant",
        "possible_self_production",
        "generative_ai",
        "potential_meme",
        "viral",
    ):
        out[f"file_{a}"] = a in fann
    kinds = {i["kind"] for i in s0.get("identifiers") or []}
    for k in LINK_KINDS:
        out[f"id_{k}"] = k in kinds
    if inc.get("occurred_at"):
        lag = datetime.fromisoformat(d["received_at"]) - datetime.fromisoformat(inc["occurred_at"])
        out["lag_days"] = int(np.digitize(lag.total_seconds() / 86400, [1, 3, 7, 21, 90, 365]))
    return out


def test_no_single_field_determines_a_label(docs: list[dict[str, Any]]) -> None:
    related = _related(docs)
    rows = [_fields(d, r) for d, r in zip(docs, related, strict=True)]
    for what, classes in (("urgency", ("immediate", "high")), ("viability", ("package", "lead"))):
        y = _labels(docs, what)
        for cls in classes:
            counts: dict[tuple[str, object], list[int]] = defaultdict(lambda: [0, 0])
            for row, label in zip(rows, y, strict=True):
                for k, v in row.items():
                    c = counts[(k, v)]
                    c[0] += 1
                    c[1] += label == cls
            purity = {kv: hit / n for kv, (n, hit) in counts.items() if n >= 100}
            worst = max(purity, key=purity.get)  # type: ignore[arg-type]
            assert purity[worst] < 0.95, (what, cls, worst, purity[worst])


def test_observables_nearly_reach_the_oracle(sim) -> None:  # type: ignore[no-untyped-def]
    y = sim.urgency == 0
    oracle_auc = roc_auc_score(y, sim.p_urgency[:, 0])
    observed_auc = roc_auc_score(y, sim.observed_logit)  # no hidden term: a model's ceiling-ish
    assert oracle_auc > 0.9
    assert observed_auc >= 0.97 * oracle_auc


def test_safety_rules_alone_do_not_explain_immediate(sim) -> None:  # type: ignore[no-untyped-def]
    c, o = sim.c, sim.obs
    rules = c["escalated"] | c["sext"] | o["live_streaming"] | o["physical_harm"] | o["infant"]
    y = sim.urgency == 0
    assert rules[y].mean() < 0.6  # many immediate referrals carry no safety-rule flag
    assert roc_auc_score(y, sim.observed_logit) > roc_auc_score(y, rules) + 0.1


@pytest.mark.parametrize("annotation", ["generative_ai", "possible_self_production"])
def test_protected_file_annotations_never_lower_urgency(sim, annotation: str) -> None:  # type: ignore[no-untyped-def]
    on, off = dict(sim.obs), dict(sim.obs)
    on[annotation] = np.ones(sim.n, dtype=bool)
    off[annotation] = np.zeros(sim.n, dtype=bool)
    u_on, *_ = orc.logits(sim.c, on, sim.subjects)
    u_off, *_ = orc.logits(sim.c, off, sim.subjects)
    assert np.all(u_on[:, :2] >= u_off[:, :2] - 1e-12)


def test_minor_to_minor_never_lowers_urgency(sim) -> None:  # type: ignore[no-untyped-def]
    on, off = dict(sim.c), dict(sim.c)
    on["m2m"], off["m2m"] = np.ones(sim.n, dtype=bool), np.zeros(sim.n, dtype=bool)
    u_on, *_ = orc.logits(on, sim.obs, sim.subjects)
    u_off, *_ = orc.logits(off, sim.obs, sim.subjects)
    assert np.all(u_on[:, :2] >= u_off[:, :2] - 1e-12)


def test_viability_follows_jurisdiction_and_freshness(sim) -> None:  # type: ignore[no-untyped-def]
    jur, v = sim.obs["jur"], sim.viability

    def share(mask: np.ndarray, cls: int) -> float:
        return float((v[mask] == cls).mean())

    ca, foreign, proxy, unknown = (jur == k for k in range(4))
    assert share(ca, 0) > 3 * share(foreign, 0)
    assert share(foreign, 1) > share(ca, 1)
    assert min(share(proxy, 2), share(unknown, 2)) > 3 * share(ca, 2)
    fresh = np.nan_to_num(sim.obs["fresh_days"], nan=1e9)
    assert share(ca & (fresh < 7), 0) > share(ca & (fresh > 180) & (fresh < 1e8), 0) + 0.05


# --- drift scenarios ------------------------------------------------------------------------

SC_START, SC_N = date(2022, 1, 1), 8000


def _metrics(docs: list[dict[str, Any]]) -> dict[str, float]:
    """The columns each scenario claims to move, as a drift monitor would read them."""
    n = len(docs)
    files = [f for d in docs for f in d.get("files") or []]
    largest = platforms().names[0]
    big = [d for d in docs if d["incident"].get("platform") == largest]
    baseline_names = set(platforms().names[:N_BASE])
    return {
        "enticement": sum(d["incident"]["type"] == "online_enticement" for d in docs) / n,
        "trafficking": sum(d["incident"]["type"] == "trafficking" for d in docs) / n,
        "chat": sum(d["incident"].get("channel") == "chat" for d in docs) / n,
        "sextortion": sum("sextortion" in (d["incident"].get("annotations") or []) for d in docs)
        / n,
        "genai": sum("generative_ai" in (f.get("annotations") or []) for f in files) / len(files),
        "largest": len(big) / n,
        "largest_hash_detected": sum(
            f.get("hash_match") in ("known", "similar") for d in big for f in d.get("files") or []
        )
        / n,
        "unseen_platform": sum(
            d["incident"].get("platform") not in baseline_names | {None} for d in docs
        )
        / n,
    }


@pytest.fixture(scope="module")
def baseline_metrics() -> dict[str, float]:
    return _metrics(generate(SC_N, 4, SC_START, 365, "baseline"))


CLAIMS: dict[str, dict[str, tuple[float, float]]] = {  # metric: (min ratio, max ratio)
    "covid_surge": {"enticement": (1.3, 9), "chat": (1.3, 9)},
    "e2ee": {"largest": (0, 0.6), "largest_hash_detected": (0, 0.25)},
    "report_act": {"enticement": (1.4, 9), "trafficking": (3, 20)},
    "sextortion_wave": {"sextortion": (2.5, 9)},
    "genai_spike": {"genai": (10, 100)},
}
VOLUME = {"covid_surge": 1.36, "e2ee": 0.81}


@pytest.mark.parametrize("scenario", sorted(CLAIMS))
def test_scenario_shifts_what_it_claims(scenario: str, baseline_metrics: dict[str, float]) -> None:
    got = _metrics(generate(SC_N, 4, SC_START, 365, scenario))
    for metric, (lo, hi) in CLAIMS[scenario].items():
        ratio = got[metric] / baseline_metrics[metric]
        assert lo <= ratio <= hi, (scenario, metric, ratio)
    base_n = default_n(SCENARIOS["baseline"], SC_START, 365)
    assert default_n(SCENARIOS[scenario], SC_START, 365) / base_n == pytest.approx(
        VOLUME.get(scenario, 1.0), abs=0.01
    )


def test_new_platform_scenario_brings_unseen_platforms(baseline_metrics: dict[str, float]) -> None:
    got = _metrics(generate(SC_N, 4, SC_START, 365, "new_platform"))
    assert baseline_metrics["unseen_platform"] == 0
    assert got["unseen_platform"] > 0.15


def test_history_follows_the_real_timeline() -> None:
    days = history_days()
    assert 650_000 < default_n(SCENARIOS["history"], HISTORY_START, days) < 850_000
    s = simulate(80_000, 1, HISTORY_START, days, "history")
    c, f = s.c, s.files
    when = c["t"].astype("datetime64[s]")
    year = when.astype("datetime64[Y]").astype(int) + 1970
    month = when.astype("datetime64[M]").astype(int) % 12 + 1

    def per_day(y: int, months: tuple[int, ...]) -> float:
        return np.isin(month[year == y], months).sum() / (31 * len(months))

    assert per_day(2020, (3, 4, 5)) > 1.25 * per_day(2019, (3, 4, 5))  # covid
    sext = [c["sext"][year == y].mean() for y in (2021, 2025)]
    assert sext[1] > 2.5 * sext[0]  # sextortion growth
    f_year = year[f["f_ref"]]
    genai = [f["f_ann"][f_year == y, 9].mean() for y in (2019, 2025)]
    assert genai[1] > 10 * genai[0]  # generative AI 2025
    p0 = [(c["platform"][year == y] == 0).mean() for y in (2022, 2024)]
    assert p0[1] < 0.6 * p0[0]  # e2ee on the largest platform
    act = when >= np.datetime64("2024-05-07")
    assert (c["itype"][act] == 1).mean() > 3 * (c["itype"][~act] == 1).mean()  # REPORT Act
    first_year = {}
    for p, y in zip(c["platform"].tolist(), year.tolist(), strict=True):
        first_year.setdefault(p, y)
    new = Counter(y for p, y in first_year.items() if p >= N_BASE)
    assert all(new[y] >= 2 for y in range(2020, 2026))  # a few new platforms each year


# --- the command line -----------------------------------------------------------------------


def test_cli_writes_a_valid_deterministic_file(tmp_path, pseudonymiser) -> None:  # type: ignore[no-untyped-def]
    from triage.cli import main

    args = [
        "generate",
        "--n",
        "300",
        "--seed",
        "3",
        "--start",
        "2023-01-01",
        "--days",
        "30",
        "--scenario",
        "e2ee",
        "--labels",
    ]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main([*args, "--out", str(a)]) == 0
    assert main([*args, "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    batch = read_jsonl(a, pseudonymiser, labels=True)
    assert len(batch.good) == 300 and not batch.rejected
    assert all(g.outcome is not None for g in batch.good)


def test_cli_derives_n_from_days(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from triage.cli import main

    out = tmp_path / "week.jsonl"
    assert main(["generate", "--start", "2021-06-01", "--days", "7", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == round(7 * 100_000 / 365.25)  # baseline: ~100k a year
    assert "outcome" not in json.loads(lines[0])


def test_cli_writes_xml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from triage.cli import main

    out = tmp_path / "xml"
    args = ["generate", "--n", "5", "--start", "2023-01-01", "--days", "3", "--format", "xml"]
    assert main([*args, "--out", str(out)]) == 0
    assert len(list(out.glob("*.xml"))) == 5
