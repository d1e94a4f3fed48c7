"""The README's command reference is what --help prints."""

from __future__ import annotations

import re

from click.testing import CliRunner

from thb_search.cli import cli

from conftest import REPO


def test_readme_command_reference_matches_help(runner: CliRunner) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```text\n\$ thb-search ((?:\w+ )?--help)\n(.*?)```", readme, re.S)
    assert [b[0] for b in blocks] == ["--help", "search --help", "index --help", "add --help",
                                      "show --help", "similar --help", "facets --help"]
    for args, text in blocks:
        result = runner.invoke(cli, args.split())
        assert result.exit_code == 0
        assert result.stdout == text, f"README is out of date for 'thb-search {args}'"


def test_readme_names_the_install_and_test_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "```sh\npip install -e '.[test]'\npython -m pytest\n```" in readme
    assert "\npip install -e '.[test]'\n" in ci and "\npython -m pytest\n" in ci
