"""The web page and HTTP API (``thb-search serve``): a thin layer over the library.

Imported only by the ``serve`` command and the tests, so that the command
line starts without the web framework.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
