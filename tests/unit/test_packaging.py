"""The wheel carries every package of the source tree (setuptools' list in pyproject.toml is
explicit: a package left out of it is missing from every installed copy, and only from those)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_under_taskapp_is_in_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    in_tree = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "taskapp").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert in_tree <= listed, sorted(in_tree - listed)
