"""Browser tests: one real server (``triage serve``) and one headless Chromium, shared.

The browser is Debian's Chromium driven by Playwright (Playwright's own browser download
does not work here). Without it the tests skip on a developer's machine but fail under
``CI=true``: a green CI must mean the page was tested in a browser.

The server runs on a copy of the ``trained`` home, seeded through the API with recent
referrals (so retention deadlines are in the future and some are close), and with one
referral whose fields hold markup.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
from e2e_support import CHROMIUM, CHROMIUM_ARGS, SEED, markup_referral, seed_documents  # noqa: E402
from service_support import Server  # noqa: E402
from skipping import unavailable  # noqa: E402


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        unavailable(
            f"the browser tests need Debian's Chromium at {CHROMIUM}: "
            "`sudo apt-get install chromium` (or `make browser` as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def site(trained, labelled_file: Path, tmp_path_factory: pytest.TempPathFactory):
    """``(server, markup referral id)``: the server with a seeded queue, stopped at the end."""
    settings, _model, _ds, _split = trained
    home = tmp_path_factory.mktemp("e2e") / "home"
    shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns("store"))
    server = Server(home)
    server.make_tokens()
    server.start()
    try:
        with labelled_file.open() as fh:
            raw = [json.loads(next(fh)) for _ in range(SEED)]
        for doc in raw:
            doc.pop("outcome", None)
            doc.pop("_oracle", None)
        docs = seed_documents(raw)
        marked = markup_referral(raw[0])
        with server.client("scorer") as c:
            r = c.post("/score", json=[*docs, marked])
            assert r.status_code == 200, r.text
            assert not r.json()["rejected"], r.text
        yield server, marked["referral_id"]
    finally:
        server.stop()


@pytest.fixture
def page(browser, site) -> Iterator[Any]:
    """A fresh tab (own session storage) that records every dialog, script error and
    Content-Security-Policy refusal (``problems``); failed fetches (401, 404) are expected."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.dialogs = []  # type: ignore[attr-defined]
    tab.problems = []  # type: ignore[attr-defined]

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()

    def on_console(message: Any) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            tab.problems.append(message.text)  # type: ignore[attr-defined]

    tab.on("dialog", on_dialog)
    tab.on("console", on_console)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))  # type: ignore[attr-defined]
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
