"""The reviewer's page (``contract.md`` §6: "a reviewer web page at /"): four static files.

The files hold no data. The page asks for the reviewer's token and calls the JSON API
with it (``Authorization: Bearer``), so the files themselves are public
(:data:`serving.auth.PAGE`) while every call that returns data still needs the token.
A browser cannot attach a bearer token to a page load, which is why the page is not
behind the gateway's check like the API is.

Each file is sent with a strict Content-Security-Policy: script and style only from this
origin (no inline code, so an injected string cannot run), connections only to this
origin, no framing, images only as ``data:`` (the page draws its charts as inline SVG and
never shows media from a referral).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

WEB_DIR = Path(__file__).with_name("web")

#: URL path → (file in ``serving/web``, media type). Keep in step with ``auth.PAGE``.
ASSETS: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/web/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/web/app.css": ("app.css", "text/css; charset=utf-8"),
    "/web/blind.js": ("blind.js", "text/javascript; charset=utf-8"),
    "/web/cases.js": ("cases.js", "text/javascript; charset=utf-8"),
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)


def asset_response(path: str) -> Response:
    """Read on each request (four small files): an edited page needs no restart."""
    name, media_type = ASSETS[path]
    body = (WEB_DIR / name).read_bytes()
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/")
def index() -> Response:
    """The page shell: sign-in, queue and referral view are filled in by ``app.js``."""
    return asset_response("/")


@router.get("/web/app.js")
def script() -> Response:
    return asset_response("/web/app.js")


@router.get("/web/cases.js")
def cases_script() -> Response:
    """The case list, case view and package decision (issue 14)."""
    return asset_response("/web/cases.js")


@router.get("/web/app.css")
def stylesheet() -> Response:
    return asset_response("/web/app.css")


@router.get("/web/blind.js")
def blind_script() -> Response:
    """The blind second review's tab (``serving/blind_review.py``)."""
    return asset_response("/web/blind.js")
