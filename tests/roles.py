"""Who may call what: the tests' own copy, written from ``contract.md`` §6 and the least-
privilege design in ``docs/security.md``, never read from ``serving/auth.py``.

The unit test (``tests/unit/test_store.py``) checks that the service's table agrees with
this one both ways, and the server test (``tests/service/test_auth.py``) calls every route
with every role and no token and expects exactly: 2xx-or-a-data-error for the roles below,
403 for a valid token of any other role, 401 without a token. So giving the scorer the
reviewer's rights, admin the right to decide, or anyone ``/metrics``, fails a test.

| route | scorer | reviewer | admin | no token |
|---|---|---|---|---|
| POST /score | yes | 403 | 403 | 401 |
| POST /feedback | 403 | yes | 403 | 401 |
| POST /outcomes | 403 | yes | 403 | 401 |
| GET /queue | 403 | yes | 403 | 401 |
| GET /second-review, GET /second-review/{id} | 403 | yes | 403 | 401 |
| GET /referrals/{id} | 403 | yes | 403 | 401 |
| GET /cases, GET /cases/{id}, POST /cases/{id}/decision | 403 | yes | 403 | 401 |
| GET /model | yes | yes | yes | 401 |
| GET /drift | 403 | yes | yes | 401 |
| GET /docs.json | yes | yes | yes | 401 |
| GET /metrics | 403 | 403 | yes | 401 |
| GET /healthz, /livez, /readyz, the page's files | open | open | open | open |
"""

from __future__ import annotations

ROLES = ("scorer", "reviewer", "admin")

ROLE_TABLE: dict[str, frozenset[str]] = {
    "POST /score": frozenset({"scorer"}),
    "POST /feedback": frozenset({"reviewer"}),
    "POST /outcomes": frozenset({"reviewer"}),
    "GET /queue": frozenset({"reviewer"}),
    "GET /second-review": frozenset({"reviewer"}),
    "GET /second-review/{id}": frozenset({"reviewer"}),
    "GET /referrals/{id}": frozenset({"reviewer"}),
    "GET /cases": frozenset({"reviewer"}),
    "GET /cases/{id}": frozenset({"reviewer"}),
    "POST /cases/{id}/decision": frozenset({"reviewer"}),
    "GET /model": frozenset({"scorer", "reviewer", "admin"}),
    "GET /drift": frozenset({"reviewer", "admin"}),
    "GET /docs.json": frozenset({"scorer", "reviewer", "admin"}),
    "GET /metrics": frozenset({"admin"}),
}

#: Open to anyone, without a token: probes and the reviewer page's static files.
OPEN = frozenset(
    {
        "GET /healthz",
        "GET /livez",
        "GET /readyz",
        "GET /",
        "GET /web/app.js",
        "GET /web/app.css",
        "GET /web/blind.js",
        "GET /web/cases.js",
    }
)
