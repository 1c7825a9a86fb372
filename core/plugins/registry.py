"""Loading plugins and checking their manifests, once, at start-up.

Built-in plugins come from ``plugins/`` by the explicit list below; third-party ones from the
entry-point group ``dossier.plugins``, and only those the ``PLUGINS_ENABLED`` setting names. The
``PLUGINS_BLOCKED`` setting keeps any plugin out, built-in or not. A plugin that cannot be
registered (no manifest, an unknown category or purpose, a hook that matches no specification,
an event it declares but does not implement, ...) stops start-up with one line naming it: the
operator asked for it, so running without it silently would be worse.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, NoReturn

import pluggy

from config.settings import ConfigError, Settings
from consent.catalogue import LegalBasis, Notice, PurposeDefinition
from core.categories import ALL_CATEGORIES, under
from core.plugins import hookspecs
from core.policy import RESERVED_PURPOSES
from plugins.api import NAME_PATTERN, PROJECT, Manifest, PluginSetting, PurposeDeclaration

# Built-in plugins, as "module:factory", in the order they are registered. The factory is called
# once per app: a plugin that keeps state in memory (the matching index) keeps it per app.
BUILTIN_PLUGINS: tuple[str, ...] = ("plugins.matching:create", "plugins.alerts:create", "plugins.channels.callcentre:create",
                                    "plugins.channels.jobboard:create")
ENTRY_POINT_GROUP = "dossier.plugins"
# Calling a channel endpoint records contacts, which rest on the public task.
CHANNEL_PURPOSE = "dossier.public_task"
RANKING_PURPOSE = "profile.matching"


class PluginRefused(ConfigError):
    """A plugin cannot be registered; the message names it and says why."""


@dataclass(frozen=True)
class Plugin:
    """A registered plugin: its manifest, what it reads once prefixes are expanded, its hooks."""

    name: str
    manifest: Manifest
    categories: frozenset[str]
    hooks: frozenset[str]
    source: str
    # The purposes it brings, as the catalogue stores them (categories expanded).
    purposes_brought: tuple[PurposeDefinition, ...] = ()
    # Its settings as the operator gave them, checked against its manifest, defaults filled in.
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Unloaded:
    """An installed plugin that is not running: not enabled (the default), or blocked."""

    name: str
    source: str
    state: str  # "not_enabled" or "blocked"


@dataclass
class Loaded:
    """What ``load`` registered: the manager, each plugin's manifest and source, what it left out."""

    manager: pluggy.PluginManager
    manifests: dict[str, tuple[Manifest, str]]
    unloaded: list[Unloaded]


def load(settings: Settings, given: Sequence[Any] = ()) -> Loaded:
    """Register the built-in, given (tests, embedding code) and enabled entry-point plugins."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    blocked = set(settings.PLUGINS_BLOCKED)
    loaded = Loaded(manager, {}, [])
    for builtin in BUILTIN_PLUGINS:
        module_name, factory = builtin.split(":")
        short = module_name.rsplit(".", 1)[-1]
        if short in blocked:
            loaded.unloaded.append(Unloaded(short, "built-in", "blocked"))
            continue
        _register(loaded, getattr(importlib.import_module(module_name), factory)(), "built-in", blocked)
    for plugin in given:
        _register(loaded, plugin, "given", blocked)
    enabled = set(settings.PLUGINS_ENABLED)
    found: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.add(ep.name)
        source = f"entry point {ep.dist.name} {ep.dist.version}" if ep.dist else "entry point"
        if ep.name in blocked or ep.name not in enabled:
            loaded.unloaded.append(Unloaded(ep.name, source, "blocked" if ep.name in blocked else "not_enabled"))
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginRefused(f"plugin {ep.name}: cannot be loaded ({type(exc).__name__})") from None
        _register(loaded, plugin, source, blocked, expected_name=ep.name)
    missing = sorted(enabled - found)
    if missing:
        raise PluginRefused(f"PLUGINS_ENABLED: no installed plugin is named {', '.join(missing)}")
    _check_pending(manager)
    return loaded


def _check_pending(manager: pluggy.PluginManager) -> None:
    """pluggy's ``check_pending``, naming the plugin and the hook (a typo in a hook's name is the usual cause)."""
    for name, caller in vars(manager.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                raise PluginRefused(f"plugin {impl.plugin_name}: implements {name}, which matches no hook specification")
    manager.check_pending()


def _register(loaded: Loaded, plugin: Any, source: str, blocked: set[str], expected_name: str | None = None) -> None:
    manifest = _manifest_of(loaded.manager, plugin, expected_name or str(getattr(plugin, "__name__", type(plugin).__name__)))
    if manifest.name in blocked:
        loaded.unloaded.append(Unloaded(manifest.name, source, "blocked"))
        return
    if expected_name is not None and manifest.name != expected_name:
        raise PluginRefused(f"plugin {expected_name}: its manifest is named {manifest.name!r}, not its entry point's name")
    if manifest.name in loaded.manifests:
        raise PluginRefused(f"plugin {manifest.name}: a plugin of that name is already registered")
    try:
        loaded.manager.register(plugin, name=manifest.name)
    except ValueError:
        raise PluginRefused(f"plugin {manifest.name}: already registered under another name") from None
    except pluggy.PluginValidationError as exc:
        raise PluginRefused(f"plugin {manifest.name}: {exc}") from None
    loaded.manifests[manifest.name] = (manifest, source)


def _manifest_of(manager: pluggy.PluginManager, plugin: Any, label: str) -> Manifest:
    function = getattr(plugin, "dossier_manifest", None)
    if function is None or manager.parse_hookimpl_opts(plugin, "dossier_manifest") is None:
        raise PluginRefused(f"plugin {label}: has no manifest (a dossier_manifest hook implementation)")
    try:
        manifest = function()
    except Exception as exc:
        raise PluginRefused(f"plugin {label}: its manifest hook failed ({type(exc).__name__})") from None
    if not isinstance(manifest, Manifest):
        raise PluginRefused(f"plugin {label}: dossier_manifest must return a plugins.api.Manifest")
    if not isinstance(manifest.name, str) or not NAME_PATTERN.match(manifest.name):
        raise PluginRefused(f"plugin {label}: manifest name must match {NAME_PATTERN.pattern}")
    return manifest


# -- checking manifests ------------------------------------------------------------------------


def check(manager: pluggy.PluginManager, manifest: Manifest, source: str, catalogue: Mapping[str, frozenset[str]],
          configured: Mapping[str, Any] | None = None) -> Plugin:
    """Check one registered plugin against the hooks, the purpose catalogue (name -> categories)
    and what the operator configured for it (its table of the ``PLUGINS`` setting)."""
    name = manifest.name
    plugin = manager.get_plugin(name)
    refuse = _refuser(name)
    if not isinstance(manifest.version, str) or not manifest.version.strip():
        refuse("manifest version is required")
    categories = _expand(manifest.categories, refuse)
    brought = [_definition(p, _expand(p.categories, refuse)) for p in _purposes_brought(manager, name, refuse)]
    known = {**catalogue, **{p.name: frozenset(p.categories) for p in brought}}
    for purpose in manifest.purposes:
        if purpose in RESERVED_PURPOSES:
            refuse(f"purpose {purpose!r} is the seeker's own or one employer's and cannot be served by a plugin")
        if purpose not in known:
            refuse(f"unknown purpose {purpose!r}")
    covered = frozenset().union(*(known[p] for p in manifest.purposes)) if manifest.purposes else frozenset()
    for category in sorted(categories - covered):
        refuse(f"reads {category}, which none of its purposes covers")
    hooks = frozenset(caller.name for caller in manager.get_hookcallers(plugin) or ())
    for event in manifest.events:
        if event not in hookspecs.EVENT_HOOKS:
            refuse(f"unknown event {event!r} (events are the hooks {', '.join(hookspecs.EVENT_HOOKS)})")
        if event not in hooks:
            refuse(f"declares the event {event} but does not implement it")
    for hook in sorted(hooks & set(hookspecs.EVENT_HOOKS) - set(manifest.events)):
        refuse(f"implements {hook} but its manifest does not list that event")
    if categories and not set(hookspecs.LIFECYCLE_HOOKS) <= hooks:
        refuse(f"receives data, so it must implement {' and '.join(hookspecs.LIFECYCLE_HOOKS)} to purge it")
    if "dossier_candidate_ranking" in hooks and RANKING_PURPOSE not in manifest.purposes:
        refuse(f"ranks candidates, which it may do only under {RANKING_PURPOSE}")
    if "dossier_channel_endpoints" in hooks and CHANNEL_PURPOSE not in manifest.purposes:
        refuse(f"serves channel endpoints, which record contacts under {CHANNEL_PURPOSE}")
    stores = [s.name for s in manifest.stores]
    if any(not isinstance(s, str) or not NAME_PATTERN.match(s) for s in stores) or len(set(stores)) != len(stores):
        refuse(f"store names must be unique and match {NAME_PATTERN.pattern}")
    resolved = _settings(manifest.settings, configured or {}, refuse)
    return Plugin(name, manifest, categories, hooks, source, tuple(brought), MappingProxyType(resolved))


def check_configured(settings: Settings, running: Mapping[str, Plugin], unloaded: Iterable[Unloaded]) -> None:
    """Every table of the ``PLUGINS`` setting names a plugin that is installed (running or off)."""
    known = set(running) | {u.name for u in unloaded}
    for name in sorted(set(settings.PLUGINS) - known):
        raise PluginRefused(f"PLUGINS: no installed plugin is named {name}")


_KINDS: tuple[type, ...] = (str, int, float, bool, tuple)


def _settings(declared: Sequence[PluginSetting], given: Mapping[str, Any], refuse: Refuse) -> dict[str, Any]:
    """The plugin's settings: each declared one, as given (checked) or its default."""
    specs: dict[str, PluginSetting] = {}
    for spec in declared:
        if type(spec) is not PluginSetting or not isinstance(spec.name, str) or not NAME_PATTERN.match(spec.name):
            refuse(f"settings must be plugins.api.PluginSetting items named as {NAME_PATTERN.pattern}")
        if spec.kind not in _KINDS or spec.name in specs:
            refuse(f"setting {spec.name}: kind must be one of str, int, float, bool, tuple, and names unique")
        specs[spec.name] = spec
        _setting_value(spec, spec.default, _prefixed(refuse, f"setting {spec.name}: its default "))
    for name in sorted(set(given) - set(specs)):
        refuse(f"PLUGINS: unknown setting {name} (it declares {', '.join(sorted(specs)) or 'none'})")
    resolved: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            resolved[name] = _setting_value(spec, given[name], _prefixed(refuse, f"PLUGINS: setting {name} "))
        else:
            resolved[name] = spec.default if spec.kind is not tuple else tuple(spec.default)
    return resolved


def _prefixed(refuse: Refuse, prefix: str) -> Refuse:
    def refuse_with(reason: str) -> NoReturn:
        refuse(prefix + reason)

    return refuse_with


def _setting_value(spec: PluginSetting, value: Any, refuse: Refuse) -> Any:
    """``value`` checked against ``spec`` (a tuple setting accepts a list of strings)."""
    if spec.kind is tuple:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            refuse("must be a list of strings")
        return tuple(value)
    if spec.kind is float and type(value) is int:
        value = float(value)
    if type(value) is not spec.kind:
        refuse(f"must be of type {spec.kind.__name__}")
    if spec.choices and value not in spec.choices:
        refuse(f"must be one of {', '.join(spec.choices)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            refuse("must be a finite number")
        if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
            refuse(f"must be between {spec.minimum} and {spec.maximum}")
    return value


Refuse = Callable[[str], NoReturn]


def _refuser(name: str) -> Refuse:
    def refuse(reason: str) -> NoReturn:
        raise PluginRefused(f"plugin {name}: {reason}")

    return refuse


def _expand(names: Iterable[str], refuse: Refuse) -> frozenset[str]:
    """Category names, a prefix standing for every category below it (``profile``)."""
    expanded: set[str] = set()
    for name in names:
        found = under(name) if isinstance(name, str) else frozenset()
        if not found:
            refuse(f"unknown data category {name!r}")
        expanded |= found
    return frozenset(expanded & ALL_CATEGORIES)


def _purposes_brought(manager: pluggy.PluginManager, name: str, refuse: Refuse) -> tuple[PurposeDeclaration, ...]:
    caller = manager.subset_hook_caller("dossier_purposes", [p for n, p in manager.list_name_plugin() if n != name])
    try:
        results = caller()
    except Exception as exc:
        refuse(f"dossier_purposes failed ({type(exc).__name__})")
    declared: list[PurposeDeclaration] = []
    for result in results:
        for purpose in result or ():
            if not isinstance(purpose, PurposeDeclaration):
                refuse("dossier_purposes must return plugins.api.PurposeDeclaration items")
            if not purpose.name.startswith(name + ".") or not NAME_PATTERN.match(purpose.name[len(name) + 1:]):
                refuse(f"a purpose it brings must be named {name}.<name>, not {purpose.name!r}")
            if purpose.legal_basis not in {b.value for b in LegalBasis}:
                refuse(f"purpose {purpose.name}: unknown legal basis {purpose.legal_basis!r}")
            # NOTE: a plugin brings consent purposes only. A public task or a legal obligation is the
            # controller's to define (the core catalogue); a plugin that declared one would give
            # itself data no seeker agreed to.
            if purpose.legal_basis != LegalBasis.CONSENT.value:
                refuse(f"purpose {purpose.name}: a plugin brings consent purposes only, not {purpose.legal_basis}")
            if not purpose.notices or any(not n.fr.strip() or not n.en.strip() for n in purpose.notices):
                refuse(f"purpose {purpose.name}: a notice in French and English is required")
            versions = [n.version for n in purpose.notices]
            if versions != list(range(1, len(versions) + 1)):
                refuse(f"purpose {purpose.name}: notice versions must be 1, 2, 3, ... in order")
            if purpose.retention_days < 1:
                refuse(f"purpose {purpose.name}: retention_days must be at least 1")
            declared.append(purpose)
    return tuple(declared)


def _definition(purpose: PurposeDeclaration, categories: frozenset[str]) -> PurposeDefinition:
    """A plugin's purpose as the catalogue stores it."""
    return PurposeDefinition(
        purpose.name, LegalBasis(purpose.legal_basis), tuple(sorted(categories)), tuple(purpose.recipients),
        purpose.retention_days, tuple(Notice(n.version, n.fr, n.en, n.material) for n in purpose.notices),
    )
