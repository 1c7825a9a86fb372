"""Registration: what a plugin must declare, what is refused and why, and how plugins are loaded."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from core.plugins import registry
from core.plugins.gateway import plugin_gateway
from core.plugins.registry import PluginRefused
from core.runtime import runtime
from plugins.api import Manifest, Notice, Purged, PurposeDeclaration, StoredData, hookimpl
from tests.plugins.conftest import INSIGHT, insight_purpose, make_plugin


class NoManifest:
    @hookimpl
    def dossier_profile_changed(self, view: Any, event: Any, context: Any) -> None: ...


class WrongManifest:
    @hookimpl
    def dossier_manifest(self) -> Any:
        return {"name": "wrong", "version": "1"}


class Typo:
    """A hook name with a typo: pluggy's check_pending catches it."""

    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest("typo", "1.0")

    @hookimpl
    def dossier_profile_chnged(self, view: Any, event: Any, context: Any) -> None: ...


class ListsAnUnknownEvent:
    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest("lister", "1.0", events=("dossier_profile_viewed",))


REFUSED = [
    (lambda: NoManifest(), "has no manifest"),
    (lambda: WrongManifest(), "must return a plugins.api.Manifest"),
    (lambda: make_plugin("Bad-Name"), "manifest name must match"),
    (lambda: make_plugin(version=" "), "manifest version is required"),
    (lambda: make_plugin(categories=("profile.favourite_colour",)), "unknown data category 'profile.favourite_colour'"),
    (lambda: make_plugin(purposes=("marketing",), categories=()), "unknown purpose 'marketing'"),
    (lambda: make_plugin(purposes=("subject.rights",), categories=("identity.name",)), "cannot be served by a plugin"),
    (lambda: make_plugin(categories=("identity.national_id",)), "reads identity.national_id, which none of its purposes covers"),
    (lambda: make_plugin(events=("dossier_profile_changed",), extra={"dossier_activity_recorded": lambda self, view, event, context: None}),
     "implements dossier_activity_recorded but its manifest does not list that event"),
    (lambda: _without("dossier_profile_changed"), "declares the event dossier_profile_changed but does not implement it"),
    (lambda: ListsAnUnknownEvent(), "unknown event 'dossier_profile_viewed'"),
    (lambda: make_plugin(purge=False), "must implement dossier_consent_withdrawn and dossier_subject_erased"),
    (lambda: Typo(), "implements dossier_profile_chnged, which matches no hook specification"),
    (lambda: make_plugin(extra={"dossier_candidate_ranking": lambda self, query, context: []}), "only under profile.matching"),
    (lambda: make_plugin(brings=[PurposeDeclaration("insight", "consent", ("profile.skills",), (), 30, insight_purpose().notices)]),
     "must be named recorder.<name>"),
    (lambda: make_plugin(brings=[PurposeDeclaration("recorder.insight", "goodwill", ("profile.skills",), (), 30,
                                                    insight_purpose().notices)]),
     "unknown legal basis 'goodwill'"),
    (lambda: make_plugin(brings=[PurposeDeclaration("recorder.insight", "consent", ("profile.skills",), (), 30, ())]),
     "a notice in French and English is required"),
    (lambda: make_plugin(stores=(StoredData("index", "x"), StoredData("index", "y"))), "store names must be unique"),
    (lambda: make_plugin(brings=[PurposeDeclaration("recorder.insight", "public_task", ("activity",), (), 30, insight_purpose().notices)]),
     "a plugin brings consent purposes only, not public_task"),
    (lambda: make_plugin(purposes=("employer.contact",), categories=("identity.name",), brings=[]), "cannot be served by a plugin"),
]


def _without(hook: str) -> Any:
    plugin = make_plugin(events=(hook,))
    delattr(type(plugin), hook)
    return plugin


@pytest.mark.parametrize(("build", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_a_plugin_that_breaks_a_rule_is_refused_with_a_clear_message(start_app, build, message) -> None:
    with pytest.raises(PluginRefused) as refused:
        start_app(build())
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_two_plugins_of_one_name_are_refused(start_app) -> None:
    with pytest.raises(PluginRefused, match="already registered"):
        start_app(make_plugin(), make_plugin())


def test_a_valid_plugin_is_registered_and_its_purpose_joins_the_catalogue(start_app, make_person) -> None:
    app = start_app(make_plugin(events=("dossier_profile_changed",)))
    plugin = plugin_gateway(app).plugins["recorder"]
    assert plugin.categories >= {"profile.skills", "contact.history"}
    assert plugin.source == "given"
    purposes = {p["purpose"]: p for p in app.test_client().get(
        "/api/v1/purposes", headers=_auth(app, "seeker")).get_json()}
    assert purposes[INSIGHT]["legal_basis"] == "consent" and purposes[INSIGHT]["seeker_controlled"]
    # Starting again finds it in the catalogue and adds nothing.
    start_app(make_plugin(events=("dossier_profile_changed",)))


class BringsAPurpose:
    """A plugin with a consent purpose of its own, whose notice had a material change."""

    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest("digest", "2.0", purposes=("digest.weekly",), categories=("activity",))

    @hookimpl
    def dossier_purposes(self) -> list[PurposeDeclaration]:
        return [PurposeDeclaration("digest.weekly", "consent", ("activity",), ("digest plugin",), 90, (
            Notice("Un résumé hebdomadaire de vos démarches.", "A weekly digest of your job-search activities."),
            Notice("Un résumé hebdomadaire, partagé avec votre conseiller.", "A weekly digest, shared with your advisor.",
                   version=2, material=True),
        ))]

    @hookimpl
    def dossier_consent_withdrawn(self, pseudonym: str, purpose: str, context: Any) -> Purged:
        return Purged()

    @hookimpl
    def dossier_subject_erased(self, pseudonym: str, context: Any) -> Purged:
        return Purged()


def test_the_purposes_a_plugin_brings_join_the_catalogue_with_their_notices(start_app) -> None:
    app = start_app(BringsAPurpose())
    purposes = {p["purpose"]: p for p in app.test_client().get("/api/v1/purposes", headers=_auth(app, "seeker")).get_json()}
    weekly = purposes["digest.weekly"]
    assert (weekly["legal_basis"], weekly["notice_version"], weekly["notice_material"]) == ("consent", 2, True)
    assert weekly["notice"]["en"] == "A weekly digest, shared with your advisor."
    assert weekly["categories"] == ["activity.applications", "activity.interviews", "activity.other", "activity.trainings"]
    assert plugin_gateway(app).purposes["digest.weekly"].legal_basis == "consent"


def test_a_category_prefix_stands_for_every_category_below_it(start_app) -> None:
    app = start_app(make_plugin(purposes=("profile.matching",), categories=("profile",), brings=[]))
    assert plugin_gateway(app).plugins["recorder"].categories == frozenset({
        "profile.occupations", "profile.skills", "profile.languages", "profile.education", "profile.experience",
        "profile.location", "profile.availability", "profile.licences", "profile.contract_preferences"})


def test_a_plugin_cannot_redefine_a_purpose_of_the_core(start_app) -> None:
    # The prefix rule lets a plugin named "profile" bring "profile.*" purposes, but not replace one.
    takeover = PurposeDeclaration("profile.matching", "consent", ("profile.skills",), (), 30, insight_purpose().notices)
    with pytest.raises(PluginRefused, match="purpose profile.matching already comes from core"):
        start_app(make_plugin("profile", purposes=("profile.matching",), categories=("profile.skills",), brings=[takeover]))


def test_a_new_version_cannot_change_what_a_purpose_means(start_app) -> None:
    start_app(make_plugin())  # brings recorder.insight: consent, some categories
    loosened = PurposeDeclaration("recorder.insight", "consent", ("profile.skills", "identity.national_id"), ("test plugin",), 30,
                                  insight_purpose().notices)
    with pytest.raises(PluginRefused, match="another legal basis or other categories; a changed purpose needs a new name"):
        start_app(make_plugin(categories=("profile.skills", "identity.national_id"), brings=[loosened]))


def test_a_blocked_plugin_does_not_run(start_app) -> None:
    app = start_app(make_plugin(), PLUGINS_BLOCKED=("recorder",))
    assert not plugin_gateway(app)
    assert [(u.name, u.state) for u in plugin_gateway(app).unloaded] == [("recorder", "blocked")]


def _auth(app: Any, role: str) -> dict[str, str]:
    from core.identity import accounts
    from core.identity.roles import Role

    rt = runtime(app)
    info = accounts.create_account(rt, f"someone-{role}", Role(role), None, None)
    return {"Authorization": "Bearer " + rt.tokens.issue(info.id, role, subject_id=info.subject_id)}


# -- entry points ------------------------------------------------------------------------------


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution `thirdparty-plugin` on the import path, with an entry point `thirdparty`."""
    site = tmp_path / "site"
    (site / "thirdparty_plugin-1.2.dist-info").mkdir(parents=True)
    (site / "thirdparty_plugin-1.2.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-plugin\nVersion: 1.2\n")
    (site / "thirdparty_plugin-1.2.dist-info" / "entry_points.txt").write_text("[dossier.plugins]\nthirdparty = thirdparty_plugin\n")
    (site / "thirdparty_plugin.py").write_text(textwrap.dedent('''
        from plugins.api import Manifest, hookimpl

        @hookimpl
        def dossier_manifest():
            return Manifest("thirdparty", "1.2", description="installed by entry point")
    '''))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "thirdparty_plugin", raising=False)  # each test imports its own
    return site


def test_an_installed_plugin_is_off_until_enabled(start_app, installed) -> None:
    app = start_app()
    assert "thirdparty" not in plugin_gateway(app).plugins
    assert [(u.name, u.state, u.source) for u in plugin_gateway(app).unloaded] == [
        ("thirdparty", "not_enabled", "entry point thirdparty-plugin 1.2")]


def test_the_allow_list_enables_an_installed_plugin(start_app, installed) -> None:
    app = start_app(PLUGINS_ENABLED=("thirdparty",))
    assert plugin_gateway(app).plugins["thirdparty"].source == "entry point thirdparty-plugin 1.2"


def test_the_block_list_wins_over_the_allow_list(start_app, installed) -> None:
    app = start_app(PLUGINS_ENABLED=("thirdparty",), PLUGINS_BLOCKED=("thirdparty",))
    assert "thirdparty" not in plugin_gateway(app).plugins
    assert plugin_gateway(app).unloaded[0].state == "blocked"


def test_enabling_a_plugin_that_is_not_installed_stops_start_up(start_app) -> None:
    with pytest.raises(PluginRefused, match="no installed plugin is named nosuch"):
        start_app(PLUGINS_ENABLED=("nosuch",))


def test_an_entry_point_whose_manifest_has_another_name_is_refused(start_app, installed) -> None:
    (installed / "thirdparty_plugin.py").write_text(
        "from plugins.api import Manifest, hookimpl\n\n@hookimpl\ndef dossier_manifest():\n    return Manifest('other', '1')\n")
    with pytest.raises(PluginRefused, match="its manifest is named 'other'"):
        start_app(PLUGINS_ENABLED=("thirdparty",))


def test_built_in_plugins_come_from_the_explicit_list(start_app, monkeypatch) -> None:
    monkeypatch.setattr(registry, "BUILTIN_PLUGINS", ("tests.plugins.builtin_probe:create",))
    assert plugin_gateway(start_app()).plugins["builtin_probe"].source == "built-in"
    blocked = plugin_gateway(start_app(PLUGINS_BLOCKED=("builtin_probe",)))
    assert "builtin_probe" not in blocked.plugins and [(u.name, u.state) for u in blocked.unloaded] == [("builtin_probe", "blocked")]
