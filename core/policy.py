"""The one access decision point (docs/design.md).

``decide`` is a pure function: it sees who acts, what they want to do, and facts the caller
loaded (relation to the subject, live consents), and returns a Decision. It never touches Flask
or the database. A request is denied when no rule matches; a read that asks for several
categories is allowed for those that some rule covers and lists the others as withheld.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from consent.purposes import Purpose
from core.categories import ACTIVITY, ALL_CATEGORIES, CONTACTS, IDENTITY, PROFILE
from core.identity.roles import Actor, Role


class Action(StrEnum):
    """Every action an audit entry records; ``source:object:verb`` names."""

    DOSSIER_READ = "dossier:dossier:read"
    DOSSIER_EXPORT = "dossier:dossier:export"
    IDENTITY_WRITE = "dossier:identity:write"
    PROFILE_WRITE = "dossier:profile:write"
    PROFILE_VALIDATE = "dossier:profile:validate"
    CONTACT_RECORD = "dossier:contacts:record"
    # A contact that arrived through a channel integration's endpoint (core.plugins.channels).
    CHANNEL_CONTACT_RECORD = "dossier:contacts:record_from_channel"
    CHANNEL_ACTIVITY_RECORD = "dossier:activities:record_from_channel"
    ACTIVITY_RECORD = "dossier:activities:record"
    ACTIVITIES_READ = "dossier:activities:read"
    EVIDENCE_GENERATE = "dossier:evidence:generate"
    SUBJECT_LOOKUP = "dossier:subject:lookup"
    # An advisor lists their caseload: which seekers are theirs (references and usernames).
    CASELOAD_READ = "dossier:caseload:read"
    SUBJECT_ERASE = "dossier:subject:erase"
    CONSENTS_READ = "consent:consent:read"
    CONSENT_GRANT = "consent:consent:grant"
    CONSENT_WITHDRAW = "consent:consent:withdraw"
    # An advisor records a consent (or withdrawal) the seeker gave in person: the seeker's act.
    CONSENT_RECORD_IN_PERSON = "consent:consent:record"
    RECEIPTS_READ = "consent:receipt:read"
    ACCESS_LOG_READ = "audit:access_log:read"
    # The gateway releases a view of the subject to a plugin (core.access.authorize_release).
    PLUGIN_RELEASE = "plugin:view:release"
    # A plugin confirmed that it purged a subject's data (core.plugins.purges).
    PLUGIN_PURGE = "plugin:data:purge"
    # An auditor read the audit log (audit.service.entries), with the subject it filtered on.
    AUDIT_LOG_READ = "audit:log:read"
    # An employer's search showed the seeker's pseudonymous card (core.search.service).
    CANDIDATE_SHOW = "matching:candidate:show"
    # The seeker reads in which searches they were shown, and why.
    APPEARANCES_READ = "matching:appearance:read"
    # An employer asks to contact a candidate it was shown; the seeker reads and answers it
    # (core.search.contact_requests).
    CONTACT_REQUEST_SEND = "matching:contact_request:send"
    CONTACT_REQUESTS_READ = "matching:contact_request:read"
    CONTACT_REQUEST_DECIDE = "matching:contact_request:decide"
    # The employer whose request the seeker accepted reads the name and contact details given to it.
    CONTACT_DETAILS_READ = "dossier:contact_details:read"
    # A plugin had the delivery service alert an advisor (core.delivery.service): no subject.
    ALERT_SEND = "delivery:alert:send"


class Relation(StrEnum):
    """How the actor stands to the subject."""

    SELF = "self"
    ASSIGNED_ADVISOR = "assigned_advisor"
    ADMIN = "admin"
    # A service client registered for a channel (scope channel:<plugin>): it records contacts.
    CHANNEL_CLIENT = "channel_client"
    # An employer's user whose search ranked the seeker: set by the search alone, never derived
    # from the account (an employer reaches no dossier by its id).
    SEARCHING_EMPLOYER = "searching_employer"
    # An employer whose contact request the seeker accepted (set by that request alone).
    CONTACTED_EMPLOYER = "contacted_employer"
    NONE = "none"


READ_ACTIONS: frozenset[Action] = frozenset({
    Action.DOSSIER_READ, Action.DOSSIER_EXPORT, Action.ACTIVITIES_READ, Action.SUBJECT_LOOKUP,
    Action.CONSENTS_READ, Action.RECEIPTS_READ, Action.ACCESS_LOG_READ, Action.CASELOAD_READ, Action.CANDIDATE_SHOW,
    Action.CONTACT_REQUESTS_READ, Action.CONTACT_DETAILS_READ, Action.APPEARANCES_READ, Action.EVIDENCE_GENERATE,
})


@dataclass(frozen=True, slots=True)
class Facts:
    """What the caller loaded about the subject for this decision."""

    subject_id: str
    relation: Relation
    live_consents: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Withheld:
    category: str
    reason: str
    # The purpose whose consent would allow it, when a consent is what is missing.
    consent: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Allow or deny, the categories allowed, and why. Falsy when denied."""

    allowed: bool
    action: Action
    subject_id: str
    purposes: tuple[str, ...]
    categories: frozenset[str]
    reason: str
    # Whether the actor may learn that the subject exists (403 rather than 404 when denied).
    visible: bool
    withheld: tuple[Withheld, ...] = field(default=())

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def recorded(cls, action: Action, subject_id: str | None, purposes: tuple[str, ...], reason: str) -> Decision:
        """An act that takes no decision of the rules but is recorded as done (a purge confirmed,
        the log read by an auditor whose role alone allows it)."""
        return cls(True, action, subject_id or "", purposes, frozenset(), reason, True)

    @property
    def consent_required(self) -> str | None:
        """The purpose whose missing consent is the reason for a denial, if that is the reason."""
        return next((w.consent for w in self.withheld if w.consent), None) if not self.allowed else None


@dataclass(frozen=True, slots=True)
class Rule:
    """Who, in which relation, may do what to which categories, for which purpose."""

    action: Action
    relation: Relation
    categories: frozenset[str]
    purpose: Purpose
    # A rule that rests on consent applies only while that purpose's consent is live.
    needs_consent: bool = False

    def applies(self, action: Action, relation: Relation) -> bool:
        return action is self.action and relation is self.relation


SELF, ADVISOR = Relation.SELF, Relation.ASSIGNED_ADVISOR
# What an exact lookup matches on, through the blind indexes.
LOOKUP_KEYS = frozenset({"identity.national_id", "identity.contact"})

# docs/design.md. The seeker has every right over their own dossier except recording
# contacts (the service's record of its own acts) and validating their own declarations.
RULES: tuple[Rule, ...] = (
    Rule(Action.DOSSIER_READ, SELF, ALL_CATEGORIES, Purpose.SUBJECT_RIGHTS),
    Rule(Action.DOSSIER_EXPORT, SELF, ALL_CATEGORIES, Purpose.SUBJECT_RIGHTS),
    Rule(Action.IDENTITY_WRITE, SELF, IDENTITY, Purpose.SUBJECT_RIGHTS),
    Rule(Action.PROFILE_WRITE, SELF, PROFILE, Purpose.SUBJECT_RIGHTS),
    Rule(Action.ACTIVITY_RECORD, SELF, ACTIVITY, Purpose.SUBJECT_RIGHTS),
    Rule(Action.ACTIVITIES_READ, SELF, ACTIVITY, Purpose.SUBJECT_RIGHTS),
    # The attestation of active job search: the activities chosen, and the name of its holder.
    Rule(Action.EVIDENCE_GENERATE, SELF, ACTIVITY | {"identity.name"}, Purpose.SUBJECT_RIGHTS),
    Rule(Action.SUBJECT_ERASE, SELF, ALL_CATEGORIES, Purpose.SUBJECT_RIGHTS),
    # Consent acts touch no dossier category; only the seeker gives or withdraws a consent.
    Rule(Action.CONSENTS_READ, SELF, frozenset(), Purpose.SUBJECT_RIGHTS),
    Rule(Action.CONSENT_GRANT, SELF, frozenset(), Purpose.SUBJECT_RIGHTS),
    Rule(Action.CONSENT_WITHDRAW, SELF, frozenset(), Purpose.SUBJECT_RIGHTS),
    Rule(Action.RECEIPTS_READ, SELF, frozenset(), Purpose.SUBJECT_RIGHTS),
    # "Who looked at my dossier": the seeker's own filtered read of the audit log.
    Rule(Action.ACCESS_LOG_READ, SELF, frozenset(), Purpose.SUBJECT_RIGHTS),
    # An assigned advisor works under the public task: identity and contact history.
    Rule(Action.DOSSIER_READ, ADVISOR, IDENTITY | CONTACTS, Purpose.DOSSIER_PUBLIC_TASK),
    Rule(Action.IDENTITY_WRITE, ADVISOR, IDENTITY, Purpose.DOSSIER_PUBLIC_TASK),
    Rule(Action.PROFILE_VALIDATE, ADVISOR, PROFILE, Purpose.DOSSIER_PUBLIC_TASK),
    Rule(Action.CONTACT_RECORD, ADVISOR, CONTACTS, Purpose.DOSSIER_PUBLIC_TASK),
    # A channel integration records the contacts that arrive through it (the dossier centralises
    # every contact, whatever the channel), only through its endpoint, which finds the seeker by
    # what the message names; it reads nothing and addresses no seeker by id.
    Rule(Action.CHANNEL_CONTACT_RECORD, Relation.CHANNEL_CLIENT, CONTACTS, Purpose.DOSSIER_PUBLIC_TASK),
    # ... and a response to a job offer is also the seeker's application, kept as their evidence
    # of job search. Written, never read: the advisor reads it only under activity.advisor_access.
    Rule(Action.CHANNEL_ACTIVITY_RECORD, Relation.CHANNEL_CLIENT, frozenset({"activity.applications"}),
         Purpose.DOSSIER_PUBLIC_TASK),
    Rule(Action.SUBJECT_LOOKUP, ADVISOR, LOOKUP_KEYS, Purpose.DOSSIER_PUBLIC_TASK),
    Rule(Action.CASELOAD_READ, ADVISOR, frozenset(), Purpose.DOSSIER_PUBLIC_TASK),
    Rule(Action.CONSENTS_READ, ADVISOR, frozenset(), Purpose.DOSSIER_PUBLIC_TASK),
    Rule(Action.CONSENT_RECORD_IN_PERSON, ADVISOR, frozenset(), Purpose.DOSSIER_PUBLIC_TASK),
    # ... and the job-search activity only while the seeker's activity consent is live.
    Rule(Action.DOSSIER_READ, ADVISOR, ACTIVITY, Purpose.ACTIVITY_ADVISOR_ACCESS, needs_consent=True),
    Rule(Action.ACTIVITIES_READ, ADVISOR, ACTIVITY, Purpose.ACTIVITY_ADVISOR_ACCESS, needs_consent=True),
    # ... and may make the seeker's attestation under that same consent (it names the seeker,
    # whose name the advisor reads anyway under the public task).
    Rule(Action.EVIDENCE_GENERATE, ADVISOR, ACTIVITY | {"identity.name"}, Purpose.ACTIVITY_ADVISOR_ACCESS, needs_consent=True),
    # An admin may erase on the seeker's request; an admin never reads dossier content.
    Rule(Action.SUBJECT_ERASE, Relation.ADMIN, ALL_CATEGORIES, Purpose.SUBJECT_RIGHTS),
    Rule(Action.SUBJECT_LOOKUP, Relation.ADMIN, LOOKUP_KEYS, Purpose.DOSSIER_PUBLIC_TASK),
    # A searching employer sees the published profile's card of a seeker its search ranked, only
    # while the seeker's consent to matching (publishing) is live; never an identity category.
    Rule(Action.CANDIDATE_SHOW, Relation.SEARCHING_EMPLOYER, PROFILE, Purpose.PROFILE_MATCHING, needs_consent=True),
    # ... and may ask to contact one of them, still only while the seeker is published.
    Rule(Action.CONTACT_REQUEST_SEND, Relation.SEARCHING_EMPLOYER, frozenset(), Purpose.PROFILE_MATCHING, needs_consent=True),
    # The seeker reads employers' requests and answers them: accepting gives that one employer their
    # name and contact details (employer.contact, per request), which it reads while that stands.
    Rule(Action.APPEARANCES_READ, SELF, frozenset(), Purpose.SUBJECT_RIGHTS),
    Rule(Action.CONTACT_REQUESTS_READ, SELF, frozenset(), Purpose.SUBJECT_RIGHTS),
    Rule(Action.CONTACT_REQUEST_DECIDE, SELF, frozenset(), Purpose.SUBJECT_RIGHTS),
    Rule(Action.CONTACT_DETAILS_READ, Relation.CONTACTED_EMPLOYER, frozenset({"identity.name", "identity.contact"}),
         Purpose.EMPLOYER_CONTACT, needs_consent=True),
)


@functools.cache
def consents_consulted(action: Action) -> tuple[str, ...]:
    """The purposes whose consent some rule for ``action`` depends on (what the caller must load)."""
    return tuple(sorted({rule.purpose.value for rule in RULES if rule.action is action and rule.needs_consent}))


def relation_of(actor: Actor, subject_id: str, assigned: bool) -> Relation:
    """The actor's relation to ``subject_id``, from the account and the caseload."""
    if actor.role is Role.SEEKER and actor.subject_id == subject_id:
        return Relation.SELF
    if actor.role is Role.ADVISOR and assigned:
        return Relation.ASSIGNED_ADVISOR
    if actor.role is Role.ADMIN:
        return Relation.ADMIN
    if actor.role is Role.SERVICE and any(scope.startswith("channel:") for scope in actor.scopes):
        return Relation.CHANNEL_CLIENT
    return Relation.NONE


def decide(actor: Actor, action: Action, facts: Facts, requested: Iterable[str] | None = None) -> Decision:
    """Decide whether ``actor`` may do ``action`` to the subject of ``facts``.

    ``requested`` narrows the categories asked for (default: all that the action touches).
    """
    wanted = ALL_CATEGORIES if requested is None else frozenset(requested)
    outcome = _evaluate(action, facts.relation, facts.live_consents, wanted)
    return Decision(outcome.allowed, action, facts.subject_id, outcome.purposes, outcome.categories, outcome.reason,
                    outcome.visible, outcome.withheld)


# The rules see only the action, the relation, the live consents and the categories asked for;
# these combinations are few, so each is evaluated once (every request takes a decision) into a
# decision about no subject in particular, which ``decide`` names.
@functools.lru_cache(maxsize=1024)
def _evaluate(action: Action, relation: Relation, live_consents: frozenset[str], wanted: frozenset[str]) -> Decision:
    allowed: set[str] = set()
    purposes: list[str] = []
    waiting_on_consent: dict[str, str] = {}
    for rule in RULES:
        if not rule.applies(action, relation):
            continue
        covered = rule.categories & wanted
        if rule.needs_consent and rule.purpose not in live_consents:
            for category in covered:
                waiting_on_consent.setdefault(category, rule.purpose)
            continue
        if covered or not rule.categories:
            allowed |= covered
            purposes.append(rule.purpose)
    # Related actors learn that the subject exists (403); others do not (404).
    visible = relation is not Relation.NONE
    withheld = tuple(
        Withheld(c, "consent_required", waiting_on_consent[c]) if c in waiting_on_consent else Withheld(c, "no_legal_basis")
        for c in sorted(wanted - allowed)
    )
    if not purposes:
        reason = "consent_required" if waiting_on_consent else ("no_rule" if visible else "no_relation")
        return Decision(False, action, "", (), frozenset(), reason, visible, withheld)
    reason = f"{relation.value}:{'+'.join(purposes)}"
    return Decision(True, action, "", tuple(purposes), frozenset(allowed), reason, visible, withheld)


# -- releases to plugins ------------------------------------------------------------------------

# The seeker's own rights are theirs alone, and what they give one employer is for that employer:
# no plugin acts under either.
RESERVED_PURPOSES: frozenset[str] = frozenset({Purpose.SUBJECT_RIGHTS, Purpose.EMPLOYER_CONTACT})
# The legal bases a release may rest on; anything else (an unknown basis) releases nothing.
RELEASE_BASES: frozenset[str] = frozenset({"consent", "public_task", "legal_obligation"})


@dataclass(frozen=True, slots=True)
class ReleaseFacts:
    """What the gateway loaded to decide a release of one subject's data to one plugin."""

    subject_id: str
    purpose: str
    # The purpose's legal basis and categories from the catalogue; None when it is not in it.
    legal_basis: str | None
    purpose_categories: frozenset[str]
    consent_live: bool
    erased: bool


def decide_release(declared: frozenset[str], facts: ReleaseFacts) -> Decision:
    """Which of the categories a plugin's manifest ``declared`` it may receive under ``facts.purpose``.

    The plugin receives the declared categories that the purpose covers, and only while the
    purpose's legal basis holds: a consent purpose needs the subject's live consent, a public-task
    or legal-obligation purpose rests on the law. Anything else is denied, with its reason.
    """
    action, subject, purpose = Action.PLUGIN_RELEASE, facts.subject_id, facts.purpose
    covered = declared & facts.purpose_categories
    outside = tuple(Withheld(c, "not_in_purpose") for c in sorted(declared - covered))

    def deny(reason: str, withheld: tuple[Withheld, ...]) -> Decision:
        return Decision(False, action, subject, (purpose,), frozenset(), reason, True, withheld)

    if facts.legal_basis is None or facts.legal_basis not in RELEASE_BASES:
        return deny("unknown_purpose", outside)
    if purpose in RESERVED_PURPOSES:
        return deny("purpose_reserved", outside)
    if facts.erased:
        return deny("erased", outside)
    if facts.legal_basis == "consent" and not facts.consent_live:
        return deny("consent_required", tuple(Withheld(c, "consent_required", purpose) for c in sorted(covered)) + outside)
    if not covered:
        return deny("nothing_to_release", outside)
    return Decision(True, action, subject, (purpose,), frozenset(covered), f"plugin:{facts.legal_basis}", True, outside)
