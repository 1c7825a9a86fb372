"""Dossier use cases: one function per user action, one transaction each.

Each function authorises first (``core.access.authorize``), then loads and opens only the
categories the decision allows, or seals and writes what the actor may write; what it returns
is typed (``core.dossier.records``). Writes that plugins hear of queue their event in the same
transaction (``core.plugins.outbox``); an erasure asks every holder to purge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from consent import store as consent_store
from core.access import authorize, require_role
from core.categories import ACTIVITY, CONTACTS, IDENTITY, PROFILE, section_of
from core.crypto.blind_index import IndexKind, blind_index
from core.crypto.sealing import SubjectCipher
from core.dossier import records, store
from core.dossier.records import (
    ACTIVITY_CATEGORY,
    CONTACT_FIELDS,
    IDENTITY_FIELDS,
    PROFILE_FIELDS,
    SECTION_ORDER,
    Activity,
    Contact,
    Identity,
    Profile,
    Provenance,
    RecordKind,
    WithheldSection,
)
from core.errors import AccessRefused, Conflict, InvalidInput, NotFound
from core.identity import store as identity_store
from core.identity.roles import Actor, Role
from core.models import accounts, as_utc, blind_indexes, seeker_assignments, subjects
from core.plugins import outbox, purges
from core.plugins.gateway import PluginGateway
from core.policy import Action, Decision
from core.runtime import Runtime
from core.contact_requests import store as contact_request_store
from core.search import store as search_store
from core.taxonomy.service import unknown_codes


@dataclass(frozen=True, slots=True)
class Dossier:
    """The dossier as one reader may see it: a section they may not see is None and listed in ``withheld``."""

    subject_id: str
    identity: Identity | None
    profile: Profile | None
    contacts: list[Contact] | None
    activities: list[Activity] | None
    withheld: list[WithheldSection]


@dataclass(frozen=True, slots=True)
class ExportAccount:
    id: str
    username: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ExportedReceipt:
    receipt_id: str
    purpose: str
    state: str
    timestamp: datetime
    receipt_jws: str


@dataclass(frozen=True, slots=True)
class Export:
    """Everything held about the seeker, as portable JSON (GDPR article 20)."""

    format: str
    exported_at: datetime
    subject_id: str
    account: ExportAccount
    assigned_advisors: list[str]
    consents: list[ExportedReceipt]
    identity: Identity | None
    profile: Profile | None
    contacts: list[Contact] | None
    activities: list[Activity] | None


@dataclass(frozen=True, slots=True)
class Validation:
    """A profile field validated by an advisor, with its provenance now."""

    field: str
    source: str
    declared_at: datetime | None
    validated_by: str | None
    validated_at: datetime | None
    evidence: str | None


@dataclass(frozen=True, slots=True)
class AssignedSeeker:
    subject_id: str
    username: str
    assigned_at: datetime


@dataclass(frozen=True, slots=True)
class AssignedEmployer:
    employer_id: str
    name: str
    assigned_at: datetime


@dataclass(frozen=True, slots=True)
class Caseload:
    """An advisor's caseload: the seekers and the employers assigned to them."""

    seekers: list[AssignedSeeker]
    employers: list[AssignedEmployer]


EXPORT_FORMAT = "dossier-export/1"


# -- reads ------------------------------------------------------------------------------------


def read_dossier(rt: Runtime, actor: Actor, subject_id: str) -> Dossier:
    """The dossier as ``actor`` may see it; withheld sections are absent and listed."""
    with rt.transaction() as conn:
        access = authorize(conn, actor, Action.DOSSIER_READ, subject_id, now=rt.clock())
        sealed = store.load_sealed(conn, subject_id, access.decision.categories)
    opened = store.open_sealed(rt.sealer.cipher(subject_id, access.key), sealed)
    sections = records.sections(opened, access.decision.categories)
    return Dossier(subject_id, sections.identity, sections.profile, sections.contacts, sections.activities,
                   _withheld(access.decision))


def list_activities(rt: Runtime, actor: Actor, subject_id: str) -> list[Activity]:
    with rt.transaction() as conn:
        access = authorize(conn, actor, Action.ACTIVITIES_READ, subject_id, ACTIVITY, now=rt.clock())
        sealed = store.load_sealed(conn, subject_id, access.decision.categories)
    opened = store.open_sealed(rt.sealer.cipher(subject_id, access.key), sealed)
    return [records.activity_of(r) for r in opened if r.kind == RecordKind.ACTIVITY]


def export_dossier(rt: Runtime, actor: Actor, subject_id: str) -> Export:
    """Everything held about the seeker, as portable JSON (GDPR article 20)."""
    with rt.transaction() as conn:
        access = authorize(conn, actor, Action.DOSSIER_EXPORT, subject_id, now=rt.clock())
        cipher = rt.sealer.cipher(subject_id, access.key)
        opened = store.load_records(conn, cipher, subject_id, access.decision.categories)
        account = conn.execute(
            select(accounts.c.id, accounts.c.username, accounts.c.created_at).where(accounts.c.subject_id == subject_id)
        ).one()
        advisors = list(
            conn.execute(select(seeker_assignments.c.advisor_id).where(seeker_assignments.c.subject_id == subject_id)).scalars()
        )
        consents = [ExportedReceipt(r["id"], r["purpose"], r["state"], as_utc(r["occurred_at"]), r["receipt_jws"])
                    for r in consent_store.receipts(conn, subject_id)]
    sections = records.sections(opened, access.decision.categories)
    return Export(EXPORT_FORMAT, rt.clock(), subject_id, ExportAccount(account.id, account.username, as_utc(account.created_at)),
                  advisors, consents, sections.identity, sections.profile, sections.contacts, sections.activities)


# -- writes -----------------------------------------------------------------------------------


def put_identity(rt: Runtime, actor: Actor, subject_id: str, identity: dict[str, Any]) -> Identity:
    """Replace the identity; keeps the blind indexes of national id and e-mail in step."""
    with rt.transaction() as conn:
        now = rt.clock()
        access = authorize(conn, actor, Action.IDENTITY_WRITE, subject_id, IDENTITY, now=now)
        cipher = rt.sealer.cipher(subject_id, access.key)
        record_id = store.singleton_record_id(conn, subject_id, RecordKind.IDENTITY, now)
        key = rt.keys.blind_index_key()
        national_id = identity.get("national_id")
        if national_id is not None:
            digest = blind_index(key, IndexKind.NATIONAL_ID, national_id)
            if any(other != subject_id for other in store.subjects_by_index(conn, IndexKind.NATIONAL_ID, digest)):
                raise Conflict("Ce numéro de registre national est déjà lié à un autre dossier.", field="national_id")
            try:
                with conn.begin_nested():
                    store.set_blind_index(conn, subject_id, IndexKind.NATIONAL_ID, digest)
            except IntegrityError:
                # Another seeker claimed the same number concurrently: the unique index decided.
                raise Conflict("Ce numéro de registre national est déjà lié à un autre dossier.", field="national_id") from None
        else:
            store.set_blind_index(conn, subject_id, IndexKind.NATIONAL_ID, None)
        email = identity.get("email")
        store.set_blind_index(conn, subject_id, IndexKind.EMAIL, blind_index(key, IndexKind.EMAIL, email) if email else None)
        values = {field: identity.get(field) for field in IDENTITY_FIELDS}
        store.write_fields(conn, cipher, subject_id, record_id, values, IDENTITY_FIELDS, now)
    return records.identity_of(values)


def patch_profile(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, changes: dict[str, Any]) -> Profile:
    """Change some profile fields. A changed value is declared again: its validation lapses."""
    with rt.transaction() as conn:
        _check_codes(conn, changes)
        now = rt.clock()
        access = authorize(conn, actor, Action.PROFILE_WRITE, subject_id, PROFILE, now=now)
        cipher = rt.sealer.cipher(subject_id, access.key)
        record_id = store.singleton_record_id(conn, subject_id, RecordKind.PROFILE, now)
        current = _profile_values(conn, cipher, subject_id)
        written: dict[str, Any] = {}
        for field, value in changes.items():
            previous = current.get(field)
            if value is None:
                written[field] = None
            elif previous is not None and previous["value"] == value:
                continue  # unchanged: keeps its provenance, validated or not
            else:
                written[field] = {"value": value, "provenance": {"source": "seeker", "declared_at": now.isoformat()}}
        store.write_fields(conn, cipher, subject_id, record_id, written, PROFILE_FIELDS, now)
        if written:
            outbox.emit(rt, plugins, conn, outbox.Event.PROFILE_CHANGED, subject_id, request_id=actor.request_id)
        current.update(written)
    return records.profile_of({k: v for k, v in current.items() if v is not None})


def validate_profile_field(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, field: str,
                           evidence: str) -> Validation:
    """An advisor marks a declared profile field as validated, naming the evidence."""
    with rt.transaction() as conn:
        now = rt.clock()
        access = authorize(conn, actor, Action.PROFILE_VALIDATE, subject_id, {PROFILE_FIELDS[field]}, now=now)
        cipher = rt.sealer.cipher(subject_id, access.key)
        current = _profile_values(conn, cipher, subject_id).get(field)
        if current is None or current["value"] in ([], ""):
            raise InvalidInput("Ce champ du profil est vide: rien à valider.", field=field)
        current["provenance"] = {
            "source": "advisor",
            "declared_at": current["provenance"].get("declared_at"),
            "validated_by": actor.account_id,
            "validated_at": now.isoformat(),
            "evidence": evidence,
        }
        record_id = store.singleton_record_id(conn, subject_id, RecordKind.PROFILE, now)
        store.write_fields(conn, cipher, subject_id, record_id, {field: current}, PROFILE_FIELDS, now)
        outbox.emit(rt, plugins, conn, outbox.Event.PROFILE_CHANGED, subject_id, request_id=actor.request_id)
    provenance: Provenance = records.provenance_of(current["provenance"])
    return Validation(field, provenance.source, provenance.declared_at, provenance.validated_by, provenance.validated_at,
                      provenance.evidence)


def record_contact(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, contact: dict[str, Any]) -> Contact:
    """An assigned advisor records a contact with the seeker."""
    with rt.transaction() as conn:
        return write_contact(rt, plugins, conn, actor, subject_id, contact, Action.CONTACT_RECORD)


def record_activity(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, activity: dict[str, Any]) -> Activity:
    """The seeker records one of their job-search activities."""
    with rt.transaction() as conn:
        return write_activity(rt, plugins, conn, actor, subject_id, activity, Action.ACTIVITY_RECORD)


def set_activity_outcome(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, activity_id: str,
                         outcome: str | None) -> Activity:
    """The seeker says what came of one of their activities (``None``: not known)."""
    with rt.transaction() as conn:
        now = rt.clock()
        access = authorize(conn, actor, Action.ACTIVITY_RECORD, subject_id, ACTIVITY, now=now)
        category = store.activity_category(conn, subject_id, activity_id)
        if category is None:
            raise NotFound("Aucune démarche de ce dossier sous cet identifiant / no activity of this dossier has this id.")
        cipher = rt.sealer.cipher(subject_id, access.key)
        store.write_fields(conn, cipher, subject_id, activity_id, {"outcome": outcome}, {"outcome": category}, now)
        (opened,) = [r for r in store.load_records(conn, cipher, subject_id, {category}) if r.id == activity_id]
        outbox.emit(rt, plugins, conn, outbox.Event.ACTIVITY_RECORDED, subject_id, activity_id,
                    payload={"category": category}, request_id=actor.request_id)
    return records.activity_of(opened)


def write_contact(rt: Runtime, plugins: PluginGateway, conn: Connection, actor: Actor, subject_id: str,
                  contact: dict[str, Any], action: Action, record_id: str | None = None) -> Contact:
    """Decide, record and seal a contact in the caller's transaction; ``action`` is
    CHANNEL_CONTACT_RECORD when it arrived through a channel's endpoint."""
    now = rt.clock()
    access = authorize(conn, actor, action, subject_id, CONTACTS, now=now)
    record_id = store.create_record(conn, subject_id, RecordKind.CONTACT, actor.account_id, now, record_id)
    values = {f: contact[f] for f in CONTACT_FIELDS}
    values["occurred_at"] = contact["occurred_at"].isoformat()
    category = {f: "contact.history" for f in CONTACT_FIELDS}
    store.write_fields(conn, rt.sealer.cipher(subject_id, access.key), subject_id, record_id, values, category, now)
    outbox.emit(rt, plugins, conn, outbox.Event.CONTACT_RECORDED, subject_id, record_id,
                payload={"category": "contact.history"}, request_id=actor.request_id)
    return records.contact_of(records.OpenedRecord(record_id, RecordKind.CONTACT, now, actor.account_id, values))


def write_activity(rt: Runtime, plugins: PluginGateway, conn: Connection, actor: Actor, subject_id: str,
                   activity: dict[str, Any], action: Action, record_id: str | None = None) -> Activity:
    """Decide, record and seal an activity in the caller's transaction; ``action`` is
    CHANNEL_ACTIVITY_RECORD when it arrived through a channel's endpoint."""
    category = ACTIVITY_CATEGORY[activity["kind"]]
    now = rt.clock()
    access = authorize(conn, actor, action, subject_id, {category}, now=now)
    if activity.get("occupation") and unknown_codes(conn, "occupation", [activity["occupation"]]):
        raise InvalidInput("Code de métier inconnu / unknown occupation code.", field="occupation")
    record_id = store.create_record(conn, subject_id, RecordKind.ACTIVITY, actor.account_id, now, record_id)
    values = {"kind": activity["kind"], "occurred_at": activity["occurred_at"].isoformat(), "description": activity["description"],
              **{f: activity[f] for f in ("organisation", "occupation", "channel", "outcome") if activity.get(f) is not None}}
    categories = dict.fromkeys(values, category.value)
    store.write_fields(conn, rt.sealer.cipher(subject_id, access.key), subject_id, record_id, values, categories, now)
    outbox.emit(rt, plugins, conn, outbox.Event.ACTIVITY_RECORDED, subject_id, record_id,
                payload={"category": category.value}, request_id=actor.request_id)
    return records.activity_of(records.OpenedRecord(record_id, RecordKind.ACTIVITY, now, actor.account_id, values))


def erase_subject(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str) -> None:
    """Erasure by key destruction (invariant 6): the data key goes, and with it every way to read
    what was sealed under it.

    The seeker's records go too, sealed fields and the plain metadata that describes them (kind,
    category, times); so do blind indexes, assignments and the plugin events not yet delivered.
    The account is closed and its username replaced. What stays is the subject's row (its id and
    erasure time), which the audit log and consent receipts refer to. Every plugin that held the
    seeker's data is asked to purge it once the erasure commits. Copies of the old data key (dead
    row versions, backups) stop opening when the key-encryption keys are retired (docs/erasure.md).
    """
    with rt.transaction() as conn:
        now = rt.clock()
        authorize(conn, actor, Action.SUBJECT_ERASE, subject_id, now=now)
        purges.schedule(rt, plugins, conn, subject_id, None, purges.Cause.SUBJECT_ERASED, now, actor.request_id)
        outbox.forget_subject(conn, subject_id)
        conn.execute(update(subjects).where(subjects.c.id == subject_id).values(wrapped_dek=None, kek_version=None, erased_at=now))
        store.delete_records(conn, subject_id)
        search_store.forget_subject(conn, subject_id)
        contact_request_store.forget_subject(conn, subject_id)
        conn.execute(delete(blind_indexes).where(blind_indexes.c.subject_id == subject_id))
        conn.execute(delete(seeker_assignments).where(seeker_assignments.c.subject_id == subject_id))
        conn.execute(
            update(accounts)
            .where(accounts.c.subject_id == subject_id)
            .values(username="erased:" + subject_id, password_hash=None, disabled_at=now)
        )
    # NOTE: after the commit, and without waiting for readers: a backup reading the database
    # delays only the WAL cleanup (core.db.WalCleanup), not the answer nor other writers.
    rt.work.forget_old_versions()
    rt.sealer.forget_data_keys()


def caseload(rt: Runtime, actor: Actor) -> Caseload:
    """The caller's own caseload (advisors only): references and usernames, no dossier content.

    Each seeker listed is a decision, recorded: the seeker reads in their access log that their
    advisor listed them.
    """
    require_role(actor, Role.ADVISOR)
    with rt.transaction() as conn:
        listed = []
        for row in identity_store.seekers_of(conn, actor.account_id):
            authorize(conn, actor, Action.CASELOAD_READ, row.subject_id, (), now=rt.clock())
            listed.append(AssignedSeeker(row.subject_id, row.username, as_utc(row.assigned_at)))
        employers = [AssignedEmployer(r.employer_id, r.name, as_utc(r.assigned_at))
                     for r in identity_store.employers_of(conn, actor.account_id)]
    return Caseload(listed, employers)


def lookup_subjects(rt: Runtime, actor: Actor, national_id: str | None, email: str | None) -> list[str]:
    """Exact lookup by national register number or e-mail through the blind indexes.

    An advisor learns only of seekers assigned to them; an admin of any seeker.
    """
    require_role(actor, Role.ADVISOR, Role.ADMIN)
    kind, value = (IndexKind.NATIONAL_ID, national_id) if national_id is not None else (IndexKind.EMAIL, email)
    category = "identity.national_id" if kind is IndexKind.NATIONAL_ID else "identity.contact"
    digest = blind_index(rt.keys.blind_index_key(), kind, value or "")
    revealed: list[str] = []
    with rt.transaction() as conn:
        for subject_id in store.subjects_by_index(conn, kind, digest):
            # Each match is a decision, recorded: an advisor learns only of their own caseload.
            try:
                authorize(conn, actor, Action.SUBJECT_LOOKUP, subject_id, {category}, now=rt.clock())
            except AccessRefused:
                continue
            revealed.append(subject_id)
    return sorted(revealed)


# -- internals --------------------------------------------------------------------------------


def _check_codes(conn: Connection, changes: dict[str, Any]) -> None:
    problems: dict[str, str] = {}
    for field, kind in (("occupations", "occupation"), ("skills", "skill")):
        if changes.get(field):
            unknown = set(unknown_codes(conn, kind, changes[field]))
            if unknown:
                # Positions, not the codes: an error never repeats what was sent.
                positions = [i for i, code in enumerate(changes[field]) if code in unknown]
                problems[field] = f"Codes inconnus aux positions / unknown codes at positions {positions[:20]}"
    occupations = [e["occupation"] for e in changes.get("experience") or [] if e.get("occupation")]
    if occupations and unknown_codes(conn, "occupation", occupations):
        problems["experience"] = "Codes de métier inconnus / unknown occupation codes."
    if problems:
        raise InvalidInput("Le profil contient des codes inconnus.", errors=problems)


def _profile_values(conn: Connection, cipher: SubjectCipher, subject_id: str) -> dict[str, Any]:
    opened = store.load_records(conn, cipher, subject_id, PROFILE)
    return next((dict(r.values) for r in opened if r.kind == RecordKind.PROFILE), {})


def _withheld(decision: Decision) -> list[WithheldSection]:
    """One entry per section the actor may not see at all, with the reason."""
    visible = {section_of(c) for c in decision.categories}
    by_section: dict[str, WithheldSection] = {}
    for item in decision.withheld:
        section = section_of(item.category)
        if section not in visible and section not in by_section:
            by_section[section] = WithheldSection(section, item.reason, item.consent)
    return [by_section[s] for s in SECTION_ORDER if s in by_section]
