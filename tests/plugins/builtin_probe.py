"""A plugin module that test_registry lists as built-in (as a package under plugins/ would be)."""

from __future__ import annotations

from plugins.api import Manifest, hookimpl


@hookimpl
def dossier_manifest() -> Manifest:
    return Manifest("builtin_probe", "1.0", description="listed in BUILTIN_PLUGINS by a test")
