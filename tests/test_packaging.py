"""The generic top-level packages must be ours, not same-named distributions."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "core", "consent", "audit", "plugins", "migrations")


@pytest.mark.parametrize("name", PACKAGES)
def test_top_level_package_resolves_to_this_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == ROOT / name


def test_pyproject_lists_every_package_that_has_code() -> None:
    listed = set(re.findall(r'"([a-z_.]+)"', (ROOT / "pyproject.toml").read_text().split("packages = [", 1)[1].split("]", 1)[0]))
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in ROOT.glob("*/**/__init__.py")
        if p.parts[len(ROOT.parts)] not in {"tests", "bench", "examples", "docs", ".venv", "build"}
    }
    assert on_disk <= listed, f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"


def test_wsgi_holds_only_the_app() -> None:
    source = (ROOT / "wsgi.py").read_text()
    code = [line for line in source.splitlines() if line.strip() and not line.startswith(('"""', "#"))]
    assert code == ["from core.app import create_app", "app = create_app()"]
