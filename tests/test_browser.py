"""The web page in a real browser: Playwright driving the system Chromium
(Debian's ``chromium``; no browser download) against a server on a free
loopback port.  Skipped, with the reason, where no Chromium is installed;
CI installs it."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import BUNDLED, NRM_FACTSHEET, NRM_HANDBOOK, ODIHR, SUPPLY_CHAINS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="no Chromium: install Debian's chromium package (apt-get install -y chromium)")
#: What the probe of this machine found Chromium needs headless, offline, as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SUPPLY_TITLE = ("Combating Trafficking in Human Beings and Labour Exploitation in Supply "
                "Chains- Guidance for OSCE Procurement")


def start_server(index: Path, corpus: Path) -> tuple[str, object]:
    import uvicorn

    from thb_search.web import create_app

    app = create_app(index, corpus=[corpus])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser")
    url, server = start_server(folder / "index", BUNDLED)
    yield url
    server.should_exit = True  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=[True, False], ids=["javascript", "no-javascript"])
def page(request: pytest.FixtureRequest, browser) -> Iterator[object]:  # noqa: ANN001
    context = browser.new_context(java_script_enabled=request.param)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert errors == []  # no script error, no refused resource (CSP)


def hit_titles(page) -> list[str]:  # noqa: ANN001
    return page.locator("section.results > ol.hits .title").all_inner_texts()


def office_box(page, name: str):  # noqa: ANN001, ANN201
    return page.get_by_role("checkbox", name=name)


def test_search_narrow_by_office_and_remove_the_chip(page, base: str) -> None:  # noqa: ANN001
    page.goto(base)
    page.get_by_label("Search publications on combating trafficking in human beings").fill(
        "forced labour supply chains")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=forced+labour+supply+chains")
    assert hit_titles(page)[0] == SUPPLY_TITLE
    assert page.title() == "forced labour supply chains \u2013 thb-search"

    page.goto(base + "/search?q=trafficking")
    assert page.locator("h1").inner_text() == "10 publications for \u201ctrafficking\u201d"
    scripted = page.evaluate("() => document.documentElement.classList.contains('js')")
    box = page.locator("input[type=checkbox][name=office][value='" + ODIHR + "']")
    box.check()  # with JavaScript the form is sent at once
    if not scripted:
        page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**office=OSCE+Office+for+Democratic**")
    assert page.locator("h1").inner_text() == "3 publications for \u201ctrafficking\u201d"
    chip = page.get_by_role("link", name=f"Remove filter Office: {ODIHR}")
    assert chip.is_visible()
    assert page.locator("input[type=checkbox][name=office][value='" + ODIHR + "']").is_checked()
    # The facet counts follow: the type counts are those of the ODIHR publications.
    assert page.get_by_label("Factsheet 1").count() == 1
    chip.click()
    page.wait_for_url(base + "/search?q=trafficking")
    assert page.locator("h1").inner_text() == "10 publications for \u201ctrafficking\u201d"
    assert page.locator(".chips").count() == 0


def test_open_a_publication_and_go_back(page, base: str) -> None:  # noqa: ANN001
    page.goto(base + "/search?q=national+referral+mechanisms")
    page.get_by_role("link", name=hit_titles(page)[0]).click()
    page.wait_for_url(f"**/publications/{NRM_HANDBOOK}")
    assert page.locator("h1").inner_text().startswith("National Referral Mechanisms")
    similar = page.locator("section ol.hits a").first.get_attribute("href")
    assert similar == f"/publications/{NRM_FACTSHEET}"
    page.go_back()
    page.wait_for_url("**/search?q=national+referral+mechanisms")
    assert len(hit_titles(page)) == 2


def test_keyboard_alone(page, base: str) -> None:  # noqa: ANN001
    page.goto(base + "/search?q=trafficking")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to the results"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("Control+A")
    page.keyboard.type("supply chains")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=supply+chains")
    assert hit_titles(page)[0] == SUPPLY_TITLE
    # Every link and control is reachable by Tab and shows where the focus is.
    page.locator("section.results .title a").first.focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_phone_sized_screen(browser, base: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(base + "/search?q=trafficking")
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_no_accessibility_violations(browser, base: str) -> None:  # noqa: ANN001
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = browser.new_page()
    for path in ("/", "/search?q=trafficking&office=ODIHR", f"/publications/{SUPPLY_CHAINS}",
                 "/publications/nope", "/search?q=title:("):
        page.goto(base + path)
        results = axe.run(page)
        # None at all, of any impact (the issue asks for no serious ones).
        found = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]])
                 for v in results.response["violations"]]
        assert found == [], path
    page.close()


HOSTILE = {
    "id": "hostile", "title": "<script>alert('t')</script> \"Quotes\" & {braces}",
    "summary": "Summary <img src=x onerror=alert(1)> & trafficking \"q\" {x}",
    "office": ["Office <b>bold</b> & \"Co\""], "themes": ["<i>Theme</i>"],
    "type": "Report", "date": "2023-01-02", "url": "javascript:alert(1)",
}


def test_hostile_text_shows_as_typed_and_runs_nothing(browser, tmp_path: Path) -> None:  # noqa: ANN001
    (tmp_path / "h.jsonl").write_text(json.dumps(HOSTILE) + "\n", encoding="utf-8")
    url, server = start_server(tmp_path / "index", tmp_path)
    try:
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + "/search?q=trafficking")
        assert hit_titles(page) == [HOSTILE["title"]]
        assert HOSTILE["office"][0] in page.locator(".hit .meta").inner_text()
        page.get_by_role("link", name=HOSTILE["title"]).click()
        assert page.locator("h1").inner_text() == HOSTILE["title"]
        assert page.get_by_text(HOSTILE["summary"]).count() == 1
        assert page.locator("a[href^='javascript:']").count() == 0
        assert dialogs == []
        page.close()
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
