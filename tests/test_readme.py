"""The README's command reference is what --help prints.

After changing a command's help, regenerate the reference with
``python scripts/update_cli_reference.py``; this test only compares.
"""

from __future__ import annotations

from click.testing import CliRunner

from conftest import REPO
from thb_search.cli import cli

START = "<!-- cli-reference:start -->\n"
END = "<!-- cli-reference:end -->\n"
COMMANDS = ["", "search", "index", "add", "show", "similar", "facets", "serve", "eval"]


def reference(runner: CliRunner) -> str:
    blocks = []
    for command in COMMANDS:
        args = [command, "--help"] if command else ["--help"]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        blocks.append(f"```text\n$ thb-search {' '.join(args)}\n{result.stdout}```\n")
    return "\n".join(blocks)


def test_readme_command_reference_matches_help(runner: CliRunner) -> None:
    path = REPO / "README.md"
    readme = path.read_text(encoding="utf-8")
    _, rest = readme.split(START)
    current, _ = rest.split(END)
    expected = reference(runner)
    assert current == expected, ("README command reference is out of date: run "
                                 "python scripts/update_cli_reference.py")


def test_readme_names_the_install_and_test_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "```sh\npip install -e '.[test]'\npython -m pytest\n```" in readme
    assert "\npip install -e '.[test]'\n" in ci and "\npython -m pytest\n" in ci
