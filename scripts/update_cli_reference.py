#!/usr/bin/env python3
"""Rewrite the README's command reference from what ``--help`` prints.

    python scripts/update_cli_reference.py

Run it after changing a command's help; ``tests/test_readme.py`` fails until
the README and ``--help`` agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from thb_search.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- cli-reference:start -->\n"
END = "<!-- cli-reference:end -->\n"
COMMANDS = ["", "search", "index", "add", "show", "similar", "facets", "serve", "eval"]


def reference() -> str:
    """The help of every command, as the README shows it."""
    runner = CliRunner()
    blocks = []
    for command in COMMANDS:
        args = [command, "--help"] if command else ["--help"]
        result = runner.invoke(cli, args)
        if result.exit_code != 0:
            raise SystemExit(f"thb-search {' '.join(args)} failed:\n{result.output}")
        blocks.append(f"```text\n$ thb-search {' '.join(args)}\n{result.stdout}```\n")
    return "\n".join(blocks)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START)
    current, tail = rest.split(END)
    new = reference()
    if new == current:
        print("README command reference is up to date")
        return 0
    README.write_text(head + START + new + END + tail, encoding="utf-8")
    print(f"updated the command reference in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
