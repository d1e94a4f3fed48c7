"""What pyproject.toml declares is what CI tests: the floors of
``.ci/floors.txt`` are exactly the lower bounds of the dependencies."""

from __future__ import annotations

import re
import tomllib

from packaging.version import Version

from conftest import REPO


def test_ci_installs_exactly_the_declared_floors() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    floors = {}
    for spec in declared:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(>=|==)([0-9.]+)", spec)
        assert m, f"{spec!r}: give each dependency a floor (>=) or an exact pin (==)"
        if m.group(2) == ">=":
            floors[m.group(1).lower()] = Version(m.group(3))
    pinned = {}
    for line in (REPO / ".ci" / "floors.txt").read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pinned[name.lower()] = Version(version)
    assert pinned == floors
