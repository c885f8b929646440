"""The server's logs carry no identifier values, IPs, free text or referral ids.

Posts referrals whose raw values are unique markers (good ones, a bad one, a mixed batch,
a reviewer's override reason), then greps everything the server wrote for them.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from service_support import variant

pytestmark = pytest.mark.timeout(300)


def marked(doc: dict, tag: str) -> tuple[dict, list[str]]:
    """``doc`` carrying unique raw values; returns it and the values that must not leak."""
    u = uuid.uuid4().hex[:8]
    values = {
        "screen": f"RAWSCREEN{tag}{u}",
        "email": f"raw.person.{tag}{u}@example.org",
        "ip": f"203.0.113.{int(u[:2], 16) % 250 + 1}",
        "ip6": f"2001:db8::{u[:4]}:{u[4:]}",
        "group": f"RAWGROUP{tag}{u}",
        "narrative": f"NARRATIVEMARK{tag}{u}",
        "escalation": f"ESCALATIONMARK{tag}{u}",
    }
    doc["subjects"] = [
        {
            "identifiers": [
                {"kind": "screen_name", "value": values["screen"]},
                {"kind": "email", "value": values["email"]},
            ],
            "ip_events": [{"ip": values["ip"]}, {"ip": values["ip6"], "event": "upload"}],
            "group_identifier": values["group"],
        }
    ]
    doc["narrative"] = values["narrative"]
    doc["escalation_reason"] = values["escalation"]
    return doc, [*values.values(), doc["referral_id"]]


def test_logs_hold_no_raw_identifiers_ips_or_text(live, raw_referrals):
    secrets: list[str] = []
    good = []
    for i in range(3):
        doc, leak = marked(variant(raw_referrals[300 + i], "logs"), f"G{i}")
        good.append(doc)
        secrets += leak
    bad, leak = marked(variant(raw_referrals[303], "logs", source="carrier-pigeon"), "B")
    secrets += leak
    with live.client("scorer") as c:
        assert c.post("/score", json=good[0]).status_code == 200
        assert c.post("/score", json=bad).status_code == 422
        assert c.post("/score", json=[good[1], bad, good[2]]).status_code == 200
        assert c.post("/score", content=json.dumps(good[0])[:-5]).status_code == 400
    reason = f"REVIEWERTEXT{uuid.uuid4().hex}"
    secrets.append(reason)
    with live.client("reviewer") as c:
        latest = c.get(f"/referrals/{good[0]['referral_id']}").json()["scores"][-1]
        fb = {
            "referral_id": good[0]["referral_id"],
            "score_id": latest["id"],
            "decision": "override",
            "tier": "immediate",
            "viability": "package",
            "reason": reason,
            "model_version": latest["score"]["model_version"],
        }
        assert c.post("/feedback", json=fb).status_code == 201
        assert c.get(f"/referrals/{good[0]['referral_id']}").status_code == 200
    time.sleep(0.5)  # let the server's writes reach the files
    logs = live.logs()
    assert '"event":"scored"' in logs, "the service does log its requests"
    for value in secrets:
        assert value not in logs, "a raw value reached the logs"
    assert not re.search(r"\d+\.\d+\.\d+\.\d+:\d+ \(scheme=", logs), (
        "an access log (client addresses)"
    )
