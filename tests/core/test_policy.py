"""The decision point: a pure function, deny by default, categories and reasons."""

from __future__ import annotations

import pytest

from core.categories import ACTIVITY, ALL_CATEGORIES, CONTACTS, IDENTITY, PROFILE
from core.identity.roles import Actor, Role
from core.policy import Action, Decision, Facts, Relation, ReleaseFacts, decide, decide_release, relation_of

SUBJECT = "6f1c2b8e-0000-4000-8000-000000000001"
SEEKER = Actor("a-seeker", Role.SEEKER, subject_id=SUBJECT)
OTHER_SEEKER = Actor("a-other", Role.SEEKER, subject_id="6f1c2b8e-0000-4000-8000-000000000002")
ADVISOR = Actor("a-advisor", Role.ADVISOR)
CHANNEL = Actor("c-mail", Role.SERVICE, client_id="c-mail", scopes=frozenset({"channel:email"}))


def facts(actor: Actor, assigned: bool = False, consents: frozenset[str] = frozenset()) -> Facts:
    return Facts(SUBJECT, relation_of(actor, SUBJECT, assigned), consents)


@pytest.mark.parametrize(
    ("actor", "assigned", "action", "allowed", "categories"),
    [
        (SEEKER, False, Action.DOSSIER_READ, True, ALL_CATEGORIES),
        (SEEKER, False, Action.IDENTITY_WRITE, True, IDENTITY),
        (SEEKER, False, Action.PROFILE_WRITE, True, PROFILE),
        (SEEKER, False, Action.ACTIVITY_RECORD, True, ACTIVITY),
        (SEEKER, False, Action.CONTACT_RECORD, False, frozenset()),
        (SEEKER, False, Action.PROFILE_VALIDATE, False, frozenset()),
        (SEEKER, False, Action.SUBJECT_ERASE, True, ALL_CATEGORIES),
        (ADVISOR, True, Action.DOSSIER_READ, True, IDENTITY | CONTACTS),
        (ADVISOR, True, Action.IDENTITY_WRITE, True, IDENTITY),
        (ADVISOR, True, Action.CONTACT_RECORD, True, CONTACTS),
        (ADVISOR, True, Action.PROFILE_VALIDATE, True, PROFILE),
        (ADVISOR, True, Action.PROFILE_WRITE, False, frozenset()),
        (ADVISOR, True, Action.ACTIVITIES_READ, False, frozenset()),
        (ADVISOR, True, Action.SUBJECT_ERASE, False, frozenset()),
        (ADVISOR, False, Action.DOSSIER_READ, False, frozenset()),
        (OTHER_SEEKER, False, Action.DOSSIER_READ, False, frozenset()),
        (Actor("a-emp", Role.EMPLOYER, employer_id="e"), False, Action.DOSSIER_READ, False, frozenset()),
        (Actor("a-aud", Role.AUDITOR), False, Action.DOSSIER_READ, False, frozenset()),
        (Actor("a-adm", Role.ADMIN), False, Action.DOSSIER_READ, False, frozenset()),
        (Actor("a-adm", Role.ADMIN), False, Action.SUBJECT_ERASE, True, ALL_CATEGORIES),
        # A channel client records contacts through its endpoint, and nothing else; without a channel
        # scope, not even that.
        (CHANNEL, False, Action.CHANNEL_CONTACT_RECORD, True, CONTACTS),
        (CHANNEL, False, Action.CONTACT_RECORD, False, frozenset()),
        (ADVISOR, True, Action.CHANNEL_CONTACT_RECORD, False, frozenset()),
        (CHANNEL, False, Action.DOSSIER_READ, False, frozenset()),
        (CHANNEL, False, Action.ACTIVITY_RECORD, False, frozenset()),
        (CHANNEL, False, Action.IDENTITY_WRITE, False, frozenset()),
        (Actor("svc", Role.SERVICE, client_id="svc", scopes=frozenset({"reports:read"})), False, Action.CHANNEL_CONTACT_RECORD,
         False, frozenset()),
    ],
)
def test_decision_table(actor: Actor, assigned: bool, action: Action, allowed: bool, categories: frozenset[str]) -> None:
    decision = decide(actor, action, facts(actor, assigned))
    assert bool(decision) is allowed
    assert decision.categories == categories
    assert decision.reason


@pytest.mark.parametrize("actor", [OTHER_SEEKER, ADVISOR, Actor("e", Role.EMPLOYER, employer_id="x"), Actor("u", Role.AUDITOR)])
def test_unrelated_actors_do_not_learn_the_subject_exists(actor: Actor) -> None:
    decision = decide(actor, Action.DOSSIER_READ, facts(actor))
    assert not decision and not decision.visible and decision.reason == "no_relation"


def test_related_actor_without_a_right_is_told_so() -> None:
    decision = decide(SEEKER, Action.CONTACT_RECORD, facts(SEEKER))
    assert not decision and decision.visible and decision.reason == "no_rule"


def test_activity_needs_a_live_consent_for_the_advisor() -> None:
    without = decide(ADVISOR, Action.ACTIVITIES_READ, facts(ADVISOR, True))
    assert not without and without.consent_required == "activity.advisor_access"
    with_consent = decide(ADVISOR, Action.ACTIVITIES_READ, facts(ADVISOR, True, frozenset({"activity.advisor_access"})))
    assert with_consent and with_consent.categories == ACTIVITY
    assert with_consent.purposes == ("activity.advisor_access",)


def test_dossier_read_lists_what_is_withheld_and_why() -> None:
    decision = decide(ADVISOR, Action.DOSSIER_READ, facts(ADVISOR, True))
    reasons = {w.category: (w.reason, w.consent) for w in decision.withheld}
    assert reasons["activity.trainings"] == ("consent_required", "activity.advisor_access")
    assert reasons["profile.skills"] == ("no_legal_basis", None)
    assert not (IDENTITY & set(reasons))


def test_requested_categories_narrow_the_decision() -> None:
    decision = decide(SEEKER, Action.DOSSIER_READ, facts(SEEKER), {"identity.name"})
    assert decision.categories == {"identity.name"}


def test_an_unknown_action_relation_pair_is_denied() -> None:
    decision = decide(Actor("x", Role.ADMIN), Action.CONTACT_RECORD, facts(Actor("x", Role.ADMIN)))
    assert not decision and decision.visible


def test_relation_is_self_only_for_the_subjects_own_seeker_account() -> None:
    assert relation_of(SEEKER, SUBJECT, False) is Relation.SELF
    assert relation_of(OTHER_SEEKER, SUBJECT, True) is Relation.NONE
    assert relation_of(ADVISOR, SUBJECT, True) is Relation.ASSIGNED_ADVISOR


# -- releases to plugins ------------------------------------------------------------------------

MATCHING = frozenset({"profile.skills", "profile.occupations", "profile.location"})


def release(declared: frozenset[str], basis: str | None = "consent", live: bool = True, erased: bool = False,
            purpose: str = "profile.matching", categories: frozenset[str] = MATCHING) -> Decision:
    return decide_release(declared, ReleaseFacts(SUBJECT, purpose, basis, categories, live, erased))


@pytest.mark.parametrize(
    ("declared", "basis", "live", "erased", "purpose", "allowed", "categories", "reason"),
    [
        (frozenset({"profile.skills", "identity.name"}), "consent", True, False, "profile.matching", True,
         frozenset({"profile.skills"}), "plugin:consent"),
        (frozenset({"profile.skills"}), "consent", False, False, "profile.matching", False, frozenset(), "consent_required"),
        (frozenset({"profile.skills"}), "public_task", False, False, "profile.matching", True, frozenset({"profile.skills"}),
         "plugin:public_task"),
        (frozenset({"identity.name"}), "consent", True, False, "profile.matching", False, frozenset(), "nothing_to_release"),
        (frozenset({"profile.skills"}), "consent", True, True, "profile.matching", False, frozenset(), "erased"),
        (frozenset({"profile.skills"}), None, True, False, "profile.matching", False, frozenset(), "unknown_purpose"),
        (frozenset({"profile.skills"}), "legal_obligation", True, False, "subject.rights", False, frozenset(), "purpose_reserved"),
    ],
)
def test_release_decision_table(declared, basis, live, erased, purpose, allowed, categories, reason) -> None:  # type: ignore[no-untyped-def]
    decision = release(declared, basis, live, erased, purpose)
    assert (bool(decision), decision.categories, decision.reason) == (allowed, categories, reason)
    assert decision.action is Action.PLUGIN_RELEASE and decision.purposes == (purpose,)


def test_a_release_names_what_it_withholds_and_why() -> None:
    decision = release(frozenset({"profile.skills", "identity.name"}), live=False)
    assert {(w.category, w.reason, w.consent) for w in decision.withheld} == {
        ("profile.skills", "consent_required", "profile.matching"), ("identity.name", "not_in_purpose", None)}
