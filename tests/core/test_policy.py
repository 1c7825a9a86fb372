"""The decision point: a pure function, deny by default, categories and reasons."""

from __future__ import annotations

import pytest

from core.categories import ACTIVITY, ALL_CATEGORIES, CONTACTS, IDENTITY, PROFILE
from core.identity.roles import Actor, Role
from core.policy import Action, Facts, Relation, decide, relation_of

SUBJECT = "6f1c2b8e-0000-4000-8000-000000000001"
SEEKER = Actor("a-seeker", Role.SEEKER, subject_id=SUBJECT)
OTHER_SEEKER = Actor("a-other", Role.SEEKER, subject_id="6f1c2b8e-0000-4000-8000-000000000002")
ADVISOR = Actor("a-advisor", Role.ADVISOR)


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
