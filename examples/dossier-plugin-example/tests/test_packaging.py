"""The distribution's metadata and the import rule, checked without installing anything."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dossier_activity_digest import __version__, plugin

EXAMPLE = Path(__file__).resolve().parents[1]
PACKAGE = EXAMPLE / "dossier_activity_digest"


def test_the_entry_point_is_named_after_the_manifest_and_points_at_the_hooks() -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["dossier.plugins"] == {plugin.NAME: "dossier_activity_digest.plugin"}
    manifest = plugin.dossier_manifest()
    assert manifest.name == plugin.NAME and manifest.version == __version__
    assert project["dependencies"] == []


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_the_plugin_imports_only_the_plugin_api_and_the_standard_library() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert module == "plugins.api" or top == PACKAGE.name or top in sys.stdlib_module_names or top == "__future__", (
                f"{path.name} imports {module}")


def test_the_import_contract_of_pyproject_holds() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (the service's test extras bring it)")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=EXAMPLE, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The plugin imports only the public plugin API (plugins.api) KEPT" in result.stdout
