"""A plugin module that test_registry lists as built-in (as a package under plugins/ would be)."""

from __future__ import annotations

import sys
from types import ModuleType

from plugins.api import Manifest, hookimpl


def create() -> ModuleType:
    """The factory that BUILTIN_PLUGINS names: this module is the plugin."""
    return sys.modules[__name__]


@hookimpl
def dossier_manifest() -> Manifest:
    return Manifest("builtin_probe", "1.0", description="listed in BUILTIN_PLUGINS by a test")
