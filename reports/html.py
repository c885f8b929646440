"""HTML rendering shared by every report page: one escaping Jinja environment and a CSP.

Every string that came from a referral is data, never markup: the environment
autoescapes everything and has no ``safe`` escape hatch in our templates except the
fixed stylesheet and charts we build ourselves. Pages are self-contained: no scripts, no
external assets, images only as ``data:`` URIs, and a Content-Security-Policy that says
so (the stylesheet is allowed by its hash, not by ``'unsafe-inline'``).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC
from functools import lru_cache
from typing import Any

import jinja2

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;
max-width:60rem;padding:0 1rem;color:#1b1f24;line-height:1.45}
h1{font-size:1.4rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:1.6rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.4rem 0;font-size:.92rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.tier{display:inline-block;padding:.1rem .6rem;border-radius:1rem;font-weight:600}
.tier-immediate{background:#cf222e;color:#fff}.tier-high{background:#bf8700;color:#fff}
.tier-routine{background:#6e7781;color:#fff}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:.4rem .7rem;border-radius:.3rem}
.bad{background:#ffebe9;border:1px solid #cf222e;padding:.4rem .7rem;border-radius:.3rem}
.ok{background:#dafbe1;border:1px solid #1a7f37;padding:.4rem .7rem;border-radius:.3rem}
.muted{color:#57606a;font-size:.88rem}.up{color:#cf222e}.down{color:#0969da}
code{font-size:.88rem;background:#f6f8fa;padding:0 .2rem}
img.chart{max-width:100%;height:auto;border:1px solid #d0d7de}
"""


def csp(css: str = CSS) -> str:
    """The page's policy: nothing may load or run; only our stylesheet and data: images."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return (
        "default-src 'none'; img-src data:; "
        f"style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp|safe }}">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>{{ title }}</title><style>{{ css|safe }}</style></head><body>
"""
FOOT = "</body></html>\n"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{100 * float(v):.{d}f}%"
    env.filters["num"] = lambda v, d=3: "–" if v is None else f"{float(v):.{d}f}"
    env.filters["when"] = lambda v: "–" if v is None else f"{v.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return env


def render(body_template: str, title: str, **context: Any) -> str:
    """A full page: our head (CSP, stylesheet), the body template, our foot."""
    template = environment().from_string(HEAD + body_template + FOOT)
    return template.render(title=title, csp=csp(), css=CSS, **context)
