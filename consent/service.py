"""Consent use cases: the catalogue, grants, withdrawals, publication and receipts.

Each grant or withdrawal is one transaction that authorises, appends the event, moves the current
state and signs the receipt; the decision point reads the current state, so a withdrawal takes
effect for every read that starts after it commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from consent import store
from consent.catalogue import PUBLICATION_PURPOSES, LegalBasis, Notice
from consent.receipts import Receipt, receipt_payload, sign_receipt, verify_receipt
from core.access import authorize
from core.errors import Conflict, InvalidInput, NotFound
from core.identity.roles import Actor, Role
from core.identity.signing import KeyUse
from core.models import as_utc, new_id
from core.plugins import outbox, purges
from core.plugins.gateway import PluginGateway
from core.policy import Action
from core.runtime import Runtime

ADVISOR_CHANNELS = ("in_person", "call_centre")


@dataclass(frozen=True, slots=True)
class NoticeText:
    fr: str
    en: str


@dataclass(frozen=True, slots=True)
class PurposeInfo:
    """A purpose of the catalogue, with its current notice."""

    purpose: str
    legal_basis: str
    categories: list[str]
    recipients: list[str]
    retention_days: int
    notice_version: int
    notice_material: bool
    notice_sha256: str
    notice: NoticeText
    seeker_controlled: bool


@dataclass(frozen=True, slots=True)
class ConsentOverview:
    """Where the seeker stands with one purpose they control."""

    purpose: str
    state: str  # granted, withdrawn, expired or never
    current_notice_version: int
    granted_at: datetime | None = None
    withdrawn_at: datetime | None = None
    expires_at: datetime | None = None
    notice_version: int | None = None
    reconsent_required: bool = False
    receipt_id: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptItem:
    receipt_id: str
    purpose: str
    state: str
    timestamp: datetime
    jws: str


@dataclass(frozen=True, slots=True)
class NoticePublished:
    purpose: str
    notice_version: int
    material: bool
    sha256: str


def list_purposes(rt: Runtime) -> list[PurposeInfo]:
    with rt.engine.connect() as conn:
        entries = store.catalogue(conn)
    return [
        PurposeInfo(e.name, e.legal_basis, list(e.categories), list(e.recipients), e.retention_days, e.notice.version,
                    e.notice.material, e.notice_sha256, NoticeText(e.notice.fr, e.notice.en),
                    e.legal_basis == LegalBasis.CONSENT and not e.per_request)
        for e in entries
    ]


def consents_of(rt: Runtime, actor: Actor, subject_id: str) -> list[ConsentOverview]:
    """Every purpose the seeker controls, with the state of their consent to it."""
    now = rt.clock()
    with rt.transaction() as conn:
        authorize(conn, actor, Action.CONSENTS_READ, subject_id, (), now=now)
        states = store.current_states(conn, subject_id)
        entries = [e for e in store.catalogue(conn) if e.legal_basis == LegalBasis.CONSENT and not e.per_request]
    return [_overview(entry, states.get(entry.name), now) for entry in entries]


def grant(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, purpose: str, notice_version: int,
          channel: str = "web", expires_at: datetime | None = None) -> Receipt:
    with rt.transaction() as conn:
        receipt = _grant(rt, plugins, conn, actor, subject_id, purpose, notice_version, channel, expires_at)
        if purpose in PUBLICATION_PURPOSES:
            outbox.emit(rt, plugins, conn, outbox.Event.PROFILE_PUBLISHED, subject_id, request_id=actor.request_id)
        return receipt


def withdraw(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, purpose: str,
             channel: str = "web") -> Receipt:
    with rt.transaction() as conn:
        return _withdraw(rt, plugins, conn, actor, subject_id, purpose, channel)


def publish(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, notice_versions: dict[str, int] | None,
            channel: str = "web") -> list[Receipt]:
    """Publishing the profile grants matching and activity access together, in one transaction."""
    with rt.transaction() as conn:
        current = {e.name: e.notice.version for e in store.catalogue(conn) if e.name in PUBLICATION_PURPOSES}
        versions = {**current, **(notice_versions or {})}
        unknown = set(versions) - set(PUBLICATION_PURPOSES)
        if unknown:
            raise InvalidInput("La publication ne couvre que profile.matching et activity.advisor_access.",
                               errors={"notice_versions": ["only profile.matching and activity.advisor_access"]})
        receipts = [_grant(rt, plugins, conn, actor, subject_id, p, versions[p], channel, None) for p in PUBLICATION_PURPOSES]
        outbox.emit(rt, plugins, conn, outbox.Event.PROFILE_PUBLISHED, subject_id, request_id=actor.request_id)
        return receipts


def unpublish(rt: Runtime, plugins: PluginGateway, actor: Actor, subject_id: str, channel: str = "web") -> list[Receipt]:
    """Unpublishing withdraws both publication consents (those still granted)."""
    with rt.transaction() as conn:
        _authorize_act(rt, conn, actor, subject_id, Action.CONSENT_WITHDRAW, channel, rt.clock())
        states = store.current_states(conn, subject_id)
        granted = [p for p in PUBLICATION_PURPOSES if states.get(p, {}).get("state") == "granted"]
        if not granted:
            raise Conflict("Le profil n'est pas publié / the profile is not published.")
        return [_withdraw(rt, plugins, conn, actor, subject_id, p, channel) for p in granted]


def receipts_of(rt: Runtime, actor: Actor, subject_id: str) -> list[ReceiptItem]:
    with rt.transaction() as conn:
        authorize(conn, actor, Action.RECEIPTS_READ, subject_id, (), now=rt.clock())
        rows = store.receipts(conn, subject_id)
    return [ReceiptItem(r["id"], r["purpose"], r["state"], as_utc(r["occurred_at"]), r["receipt_jws"]) for r in rows]


def receipt(rt: Runtime, actor: Actor, subject_id: str, receipt_id: str) -> Receipt:
    for item in receipts_of(rt, actor, subject_id):
        if item.receipt_id == receipt_id:
            return Receipt.of(verify_receipt(item.jws, rt.signing.public_keyset(KeyUse.RECEIPT)), item.jws)
    raise NotFound()


# -- internals --------------------------------------------------------------------------------


def _authorize_act(rt: Runtime, conn: Connection, actor: Actor, subject_id: str, seeker_action: Action,
                   channel: str, now: datetime) -> None:
    """The seeker acts for themself on the web; an advisor only records what the seeker said in person."""
    advisor = actor.role is Role.ADVISOR
    authorize(conn, actor, Action.CONSENT_RECORD_IN_PERSON if advisor else seeker_action, subject_id, (), now=now)
    allowed = ADVISOR_CHANNELS if advisor else ("web",)
    if channel not in allowed:
        raise InvalidInput("Canal non permis: un conseiller enregistre un consentement donné en personne ou par téléphone, "
                           "le chercheur d'emploi agit par le web.", errors={"channel": list(allowed)})


def _entry(conn: Connection, purpose: str) -> store.CatalogueEntry:
    entries = store.catalogue(conn, purpose)
    if not entries:
        raise InvalidInput("Finalité inconnue / unknown purpose.", errors={"purpose": ["unknown"]})
    entry = entries[0]
    if entry.legal_basis != LegalBasis.CONSENT or entry.per_request:
        raise InvalidInput("Cette finalité ne repose pas sur un consentement que le chercheur donne ici.",
                           errors={"purpose": ["not a consent the seeker gives here"]})
    return entry


def _grant(rt: Runtime, plugins: PluginGateway, conn: Connection, actor: Actor, subject_id: str, purpose: str,
           notice_version: int, channel: str, expires_at: datetime | None) -> Receipt:
    now = rt.clock()
    _authorize_act(rt, conn, actor, subject_id, Action.CONSENT_GRANT, channel, now)
    entry = _entry(conn, purpose)
    if notice_version != entry.notice.version:
        raise Conflict("La version de la notice ne correspond pas à la notice en vigueur: relisez-la.",
                       errors={"notice_version": [f"current version is {entry.notice.version}"]})
    expires_at = as_utc(expires_at) if expires_at is not None else None
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("La date d'expiration doit être future.", errors={"expires_at": ["must be in the future"]})
    receipt = _record(rt, conn, actor, subject_id, entry, "granted", channel, expires_at, now)
    outbox.emit(rt, plugins, conn, outbox.Event.CONSENT_GRANTED, subject_id, payload={"purpose": purpose},
                request_id=actor.request_id)
    return receipt


def _withdraw(rt: Runtime, plugins: PluginGateway, conn: Connection, actor: Actor, subject_id: str, purpose: str,
              channel: str) -> Receipt:
    now = rt.clock()
    _authorize_act(rt, conn, actor, subject_id, Action.CONSENT_WITHDRAW, channel, now)
    entry = _entry(conn, purpose)
    state = store.current_states(conn, subject_id).get(purpose)
    if state is None or state["state"] != "granted":
        raise Conflict("Ce consentement n'est pas donné: rien à retirer / this consent is not given.")
    receipt = _record(rt, conn, actor, subject_id, entry, "withdrawn", channel, None, now, state["notice_version"])
    # NOTE: invariant 3: the plugins' copies go in this transaction, and their holders are asked
    # to purge the rest before the withdrawal answers.
    purges.schedule(rt, plugins, conn, subject_id, purpose, purges.Cause.CONSENT_WITHDRAWN, now, actor.request_id)
    return receipt


def _record(rt: Runtime, conn: Connection, actor: Actor, subject_id: str, entry: store.CatalogueEntry, state: str,
            channel: str, expires_at: datetime | None, now: datetime, notice_version: int | None = None,
            recipients: tuple[str, ...] | None = None, contact_request: str | None = None) -> Receipt:
    version = notice_version or entry.notice.version
    sha = entry.notice_sha256 if version == entry.notice.version else store.notice_sha256(conn, entry.name, version)
    event_id = new_id()
    payload = receipt_payload(
        receipt_id=event_id, entry=entry, notice_version=version, notice_sha256=sha, subject_ref=subject_id, state=state,
        at=now, expires_at=expires_at, channel=channel, recorded_by=actor.account_id, recorded_by_role=actor.role.value,
        controller={"name": rt.settings.CONTROLLER_NAME, "contact": rt.settings.CONTROLLER_CONTACT},
        recipients=recipients, contact_request=contact_request,
    )
    token = sign_receipt(rt.signing, payload)
    store.record_event(conn, {
        "id": event_id, "subject_id": subject_id, "purpose": entry.name, "state": state, "notice_version": version,
        "channel": channel, "recorded_by": actor.account_id, "recorded_by_role": actor.role.value, "occurred_at": now,
        "expires_at": expires_at, "receipt_jws": token,
    }, current=not entry.per_request)
    return Receipt.of(payload, token)


def record_per_request(rt: Runtime, conn: Connection, actor: Actor, subject_id: str, purpose: str, state: str,
                       recipient: str, request_id: str) -> Receipt:
    """The seeker's consent to a per-request purpose (``employer.contact``) for one recipient and one
    request, granted or withdrawn, in the caller's transaction; its receipt names them."""
    entries = store.catalogue(conn, purpose)
    if not entries or not entries[0].per_request:
        raise ValueError(f"{purpose} is not a per-request consent purpose")
    entry, now = entries[0], rt.clock()
    return _record(rt, conn, actor, subject_id, entry, state, "web", None, now, recipients=(recipient,),
                   contact_request=request_id)


def _overview(entry: store.CatalogueEntry, state: dict[str, Any] | None, now: datetime) -> ConsentOverview:
    if state is None:
        return ConsentOverview(entry.name, "never", entry.notice.version)
    expires_at = as_utc(state["expires_at"]) if state["expires_at"] else None
    expired = state["state"] == "granted" and expires_at is not None and expires_at <= now
    return ConsentOverview(
        entry.name, "expired" if expired else state["state"], entry.notice.version,
        granted_at=as_utc(state["granted_at"]) if state["granted_at"] else None,
        withdrawn_at=as_utc(state["withdrawn_at"]) if state["withdrawn_at"] else None,
        expires_at=expires_at,
        notice_version=state["notice_version"],
        # Given under a notice that has since changed materially: not live until given again.
        reconsent_required=state["state"] == "granted" and state["notice_version"] < entry.min_notice_version,
        receipt_id=state["event_id"],
        channel=state["channel"],
    )


def publish_notice(rt: Runtime, purpose: str, text_fr: str, text_en: str, material: bool) -> NoticePublished:
    """A new notice version for ``purpose`` (an operator act); published versions never change."""
    if not text_fr.strip() or not text_en.strip():
        raise InvalidInput("Le texte de la notice est requis en français et en anglais.")
    with rt.transaction() as conn:
        entries = store.catalogue(conn, purpose)
        if not entries:
            raise NotFound("Finalité inconnue / unknown purpose.")
        notice = Notice(entries[0].notice.version + 1, text_fr.strip(), text_en.strip(), material)
        store.publish_notice(conn, purpose, notice, rt.clock())
    return NoticePublished(purpose, notice.version, material, notice.sha256(purpose))
