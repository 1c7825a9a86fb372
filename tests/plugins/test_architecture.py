"""Architecture meta-tests: the import contract, and every hook specified, tested and documented."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from core.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(name for name, value in vars(hookspecs).items() if name.startswith("dossier_") and callable(value))
KINDS = (hookspecs.REGISTRATION_HOOKS, hookspecs.EVENT_HOOKS, hookspecs.LIFECYCLE_HOOKS, hookspecs.PROCESS_HOOKS,
         hookspecs.QUERY_HOOKS)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(pythonpath)} if pythonpath else None
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_plugins_import_only_the_public_plugin_api() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Plugins import only the public plugin API (plugins.api) KEPT" in result.stdout


def test_the_import_contract_catches_a_plugin_that_reaches_into_the_core(tmp_path: Path) -> None:
    # The same contract, over a tree where a plugin imports the core's models.
    for package in ("plugins", "core", "consent", "audit", "config", "migrations"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "plugins" / "api.py").write_text("import dataclasses\n")
    (tmp_path / "core" / "models.py").write_text("")
    (tmp_path / "plugins" / "sneaky.py").write_text("from plugins import api\nfrom core.models import *\n")
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = settings["contracts"][0]
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_packages =\n" + "".join(f"    {p}\n" for p in settings["root_packages"])
        + "include_external_packages = True\n\n[importlinter:contract:plugins]\n"
        + f"name = {contract['name']}\ntype = forbidden\nsource_modules =\n    plugins\nforbidden_modules =\n"
        + "".join(f"    {m}\n" for m in contract["forbidden_modules"])
    )
    result = lint_imports(tmp_path, "--config", str(tmp_path / ".importlinter"), pythonpath=tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "plugins.sneaky -> core.models" in result.stdout


CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
# For each contract, a module that breaks it: (module, what it imports, the chain the report must show).
VIOLATIONS = {
    "The decision point is pure: no web framework, no database": ("core.policy", "flask", "core.policy -> flask"),
    "Storage, schema, keys and the unit of work import no service, view or plugin module":
        ("core.unit_of_work", "core.plugins.gateway", "core.unit_of_work -> core.plugins.gateway"),
    "In each domain package, views -> service -> store, never back":
        ("consent.store", "consent.service", "consent.store -> consent.service"),
    "The HTTP layer does not import the audit package": ("core.http.problems", "audit.entries", "core.http.problems -> audit.entries"),
    "Identity imports neither the HTTP layer nor the dossier":
        ("core.identity.accounts", "core.dossier.store", "core.identity.accounts -> core.dossier.store"),
    "The runtime knows no plugin": ("core.runtime", "core.plugins.host", "core.runtime -> core.plugins.host"),
    "The plugin host knows no runtime, and nothing that uses it":
        ("core.plugins.host", "core.runtime", "core.plugins.host -> core.runtime"),
}


def test_every_contract_holds_and_has_a_negative_control() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    names = [c["name"] for c in CONTRACTS]
    assert set(names[1:]) == set(VIOLATIONS), "every architecture contract needs a violation below"


@pytest.mark.parametrize("contract", [c for c in CONTRACTS if c["name"] in VIOLATIONS], ids=lambda c: c["name"])
def test_a_contract_catches_the_import_it_forbids(tmp_path: Path, contract: dict[str, object]) -> None:
    module, imported, chain = VIOLATIONS[str(contract["name"])]
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    modules = {module, imported, *_listed(contract)}
    for container in contract.get("containers", ()):  # type: ignore[attr-defined]
        modules |= {f"{container}.{layer}" for layer in contract["layers"]}  # type: ignore[attr-defined]
    for name in modules:
        if name.split(".")[0] not in settings["root_packages"]:
            continue  # a third-party package: imported, not written
        path = tmp_path.joinpath(*name.split("."))
        for depth in range(1, len(name.split("."))):
            package = tmp_path.joinpath(*name.split(".")[:depth])
            package.mkdir(exist_ok=True)
            (package / "__init__.py").touch()
        path.with_suffix(".py").touch()
    for package in settings["root_packages"]:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    tmp_path.joinpath(*module.split(".")).with_suffix(".py").write_text(f"import {imported}\n")
    lines = ["[importlinter]", "root_packages =", *(f"    {p}" for p in settings["root_packages"]),
             "include_external_packages = True", "", "[importlinter:contract:under-test]"]
    for key, value in contract.items():
        lines += [f"{key} ="] + [f"    {v}" for v in value] if isinstance(value, list) else [f"{key} = {value}"]
    (tmp_path / ".importlinter").write_text("\n".join(lines) + "\n")
    result = lint_imports(tmp_path, "--config", str(tmp_path / ".importlinter"), pythonpath=tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and chain in result.stdout, result.stdout


def _listed(contract: dict[str, object]) -> set[str]:
    return {str(m) for key in ("source_modules", "forbidden_modules") for m in contract.get(key, ())}  # type: ignore[attr-defined]


def test_the_public_api_imports_nothing_of_the_service() -> None:
    tree = ast.parse((ROOT / "plugins" / "api.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "csv", "functools", "importlib", "io", "logging", "math", "re", "collections", "dataclasses",
                        "datetime", "types", "typing", "pluggy"}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_of_exactly_one_kind_and_ends_with_its_consent_rule(hook: str) -> None:
    assert sum(hook in kind for kind in KINDS) == 1
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert doc.split("\n\n")[-1].startswith("Consent:"), f"{hook}: the last paragraph must say under which consent it is called"


def test_every_kind_lists_only_specified_hooks() -> None:
    assert {hook for kind in KINDS for hook in kind} == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    tests = [p for p in (ROOT / "tests" / "plugins").glob("test_*.py") if p.name != Path(__file__).name]
    assert any(hook in p.read_text() for p in tests), f"no test under tests/plugins names {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook: str) -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    assert f"### `{hook}`" in guide, f"docs/plugins.md has no section for {hook}"
    section = guide.split(f"### `{hook}`", 1)[1].split("\n### ", 1)[0]
    signature = inspect.signature(getattr(hookspecs, hook))
    shown = section.split("```python\n", 1)[1].split("```", 1)[0] if "```python\n" in section else ""
    assert shown.startswith(f"def {hook}("), f"the section of {hook} does not open with its signature"
    assert [p.split(":")[0].strip() for p in shown.split("(", 1)[1].split(")", 1)[0].split(",") if p.strip()] == list(
        signature.parameters), f"the signature shown for {hook} is not the specification's"
