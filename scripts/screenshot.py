#!/usr/bin/env python3
"""Screenshots of the web page, taken with the system Chromium.

    python scripts/screenshot.py [--out docs/screenshot.png] [--url-path /search?q=...]
        [--width 1280] [--height 900] [--index DIR] [--corpus DIR]

Starts the server on a free loopback port (over the bundled catalogue by
default), opens the page in headless Chromium (Debian's ``chromium``, driven
by Playwright; no browser download) and writes a PNG.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def serve(index: Path, corpus: Path) -> tuple[str, object]:
    import uvicorn

    from thb_search.web import create_app

    app = create_app(index, corpus=[corpus])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--url-path", default="/search?q=forced+labour+supply+chains")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--full-page", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        base, server = serve(args.index or Path(tmp) / "index", args.corpus)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.goto(base + args.url_path)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=args.full_page)
                browser.close()
        finally:
            server.should_exit = True  # type: ignore[attr-defined]
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
