"""The reviewer page's files and headers, without a server or a browser (those are in e2e).

Cheap guards for properties the browser tests can only sample: every file is public and
sent with the strict policy, and the script has no way to turn data into markup.
"""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving import web_routes
from serving.auth import PAGE, PUBLIC, is_allowed


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(web_routes.router)
    return TestClient(app)


def test_every_page_file_is_public_and_only_those():
    assert {f"GET {path}" for path in web_routes.ASSETS} == PAGE
    assert PAGE <= PUBLIC
    for path in web_routes.ASSETS:
        assert is_allowed(None, "GET", path), path
    assert not is_allowed(None, "GET", "/web/other.js"), "only the listed files are open"
    assert not is_allowed(None, "GET", "/queue"), "the data still needs a token"


@pytest.mark.parametrize("path", sorted(web_routes.ASSETS))
def test_files_are_sent_with_the_strict_policy(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == web_routes.ASSETS[path][1]
    csp = r.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp, directive
    assert "unsafe" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def _text(name: str) -> str:
    return (web_routes.WEB_DIR / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("script", ["app.js", "blind.js", "cases.js"])
def test_the_script_never_parses_strings_as_html(script):
    js = _text(script)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js, sink
    assert "new Function" not in js
    assert "localStorage" not in js, "the token belongs in sessionStorage only"


def test_no_inline_code_no_external_assets_no_images():
    html = _text("index.html")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/web/' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    assert "<img" not in html
    for name in web_routes.ASSETS.values():
        assert not re.search(r"(src|href)=\"(https?:)?//", _text(name[0])), name
        assert "@import" not in _text(name[0])
    assert "url(" not in _text("app.css")
