"""Schemathesis against the real service's published OpenAPI (issue 16): generated
requests for every documented operation find no 5xx, and every answer (status, content
type, headers, body) matches the document.

Bounded: a fixed number of examples per operation, derandomised (the same cases on every
run, so a failure reproduces), no shrinking phase. The server is this module's own (a copy
of the trained home), so the generated referrals never reach the shared server's queue.

``positive_data_acceptance`` is left out on purpose: the contract has rules JSON Schema
cannot state (``received_at`` not in the future, incident within a day of receipt, one
decision per scored referral), so schema-valid data is rightly refused with a 4xx there.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as sc
from service_support import Server

pytestmark = pytest.mark.timeout(900)

#: Examples per operation: enough to reach every field's kinds, small enough for 2 cores.
EXAMPLES = {"POST /score": 60, "POST /feedback": 40}
DEFAULT_EXAMPLES = 25
OPERATIONS = [
    ("POST", "/score"),
    ("POST", "/feedback"),
    ("GET", "/queue"),
    ("GET", "/referrals/{referral_id}"),
    ("GET", "/cases"),
    ("GET", "/cases/{case_id}"),
    ("POST", "/cases/{case_id}/decision"),
    ("GET", "/model"),
    ("GET", "/drift"),
    ("GET", "/healthz"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
]


@pytest.fixture(scope="module")
def fuzzed(trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings_, _model, _ds, _split = trained
    home = tmp_path_factory.mktemp("fuzz") / "home"
    shutil.copytree(settings_.home, home, ignore=shutil.ignore_patterns("store"))
    server = Server(home)
    server.make_tokens()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(fuzzed: Server) -> Any:
    with fuzzed.client("admin") as c:
        spec = c.get("/docs.json").json()
    return schemathesis.openapi.from_dict(spec)


CHECKS = [
    sc.not_a_server_error,
    sc.status_code_conformance,
    sc.content_type_conformance,
    sc.response_headers_conformance,
    sc.response_schema_conformance,
    sc.negative_data_rejection,
]


def test_every_contract_route_is_documented(api: Any) -> None:
    documented = {(op.ok().method.upper(), op.ok().path) for op in api.get_all_operations()}
    assert set(OPERATIONS) <= documented, set(OPERATIONS) - documented


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_5xx_and_every_answer_matches_the_openapi(
    api: Any, fuzzed: Server, method: str, path: str
) -> None:
    operation = api[path][method]
    headers = {"Authorization": f"Bearer {fuzzed.tokens['admin']}"}

    @settings(
        max_examples=EXAMPLES.get(f"{method} {path}", DEFAULT_EXAMPLES),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        case.call_and_validate(base_url=fuzzed.url, headers=headers, checks=CHECKS)

    try:
        run()
    except BaseException:
        # the server's own account of a 5xx: exception types only (serving/logs.py)
        seen = [line for line in fuzzed.logs().splitlines() if "unhandled_error" in line]
        print("server errors:", *seen[-5:], sep="\n  ")
        raise
