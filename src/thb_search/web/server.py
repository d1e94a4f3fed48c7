"""Running the web application: ``thb-search serve``.

The listening socket is bound here, before uvicorn starts, so that a port in
use or a host that does not exist is a one-line error rather than a server
log; uvicorn then serves on it until Ctrl-C (or SIGTERM) stops it cleanly.
"""

from __future__ import annotations

import errno
import os
import socket
import webbrowser
from collections.abc import Callable, Sequence

from ..errors import ThbSearchError
from .app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class ServerError(ThbSearchError):
    """The server cannot listen where it was asked to."""


def bind(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (IPv4 or IPv6), or a clear error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise ServerError(f"cannot listen on host {host!r}: no such address (use e.g. "
                          "127.0.0.1, or 0.0.0.0 for every network interface)") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerError(f"port {port} on {host} is in use: stop what uses it, or "
                              "choose another port with --port") from None
        if exc.errno == errno.EACCES:
            raise ServerError(f"no permission to listen on port {port}: choose a port above "
                              "1023 with --port") from None
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def serve(index: str | os.PathLike[str], corpus: Sequence[str | os.PathLike[str]], *,
          host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, open_browser: bool = False,
          notify: Callable[[str], None] | None = None) -> None:
    """Serve the catalogue until stopped; tells ``notify`` where."""
    import uvicorn

    sock = bind(host, port)  # first: a port in use fails before the index is opened
    try:
        app = create_app(index, corpus=corpus, notify=notify)
        url = url_of(sock)
        if notify:
            notify(f"serving the catalogue at {url} (Ctrl-C to stop)")
        if open_browser:
            webbrowser.open(url)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", server_header=False)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:
            pass  # uvicorn has shut down gracefully, then re-raised Ctrl-C: a normal stop
        finally:
            app.state.library.catalogue.close()
    finally:
        sock.close()
