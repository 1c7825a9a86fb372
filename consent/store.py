"""Storage of the catalogue and of consents (SQLAlchemy Core)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from consent.catalogue import DEFAULT_PURPOSES, Notice, PurposeDefinition
from consent.models import consent_events, consent_states, purpose_notices, purposes


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    legal_basis: str
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    retention_days: int
    per_request: bool
    notice: Notice
    notice_sha256: str
    min_notice_version: int


def load_catalogue(conn: Connection, definitions: Iterable[PurposeDefinition] = DEFAULT_PURPOSES, source: str = "core") -> list[str]:
    """Add missing purposes and notice versions; return what was added. Existing rows stay."""
    added: list[str] = []
    for definition in definitions:
        row = conn.execute(select(purposes.c.name).where(purposes.c.name == definition.name)).first()
        if row is None:
            conn.execute(insert(purposes).values(
                name=definition.name, legal_basis=definition.legal_basis.value,
                categories=json.dumps(list(definition.categories)), recipients=json.dumps(list(definition.recipients)),
                retention_days=definition.retention_days, current_notice_version=0, min_notice_version=1,
                per_request=definition.per_request, source=source,
            ))
            added.append(definition.name)
        known = set(conn.execute(select(purpose_notices.c.version).where(purpose_notices.c.purpose == definition.name)).scalars())
        for notice in definition.notices:
            if notice.version not in known:
                publish_notice(conn, definition.name, notice, None)
                added.append(f"{definition.name} notice v{notice.version}")
    return added


def publish_notice(conn: Connection, purpose: str, notice: Notice, now: datetime | None) -> None:
    """Publish a notice version and make it current; a material one ends older consents' liveness."""
    values = {"purpose": purpose, "version": notice.version, "material": notice.material, "text_fr": notice.fr,
              "text_en": notice.en, "sha256": notice.sha256(purpose)}
    if now is not None:
        values["published_at"] = now
    conn.execute(insert(purpose_notices).values(**values))
    changes: dict[str, int] = {"current_notice_version": notice.version}
    if notice.material:
        changes["min_notice_version"] = notice.version
    conn.execute(update(purposes).where(purposes.c.name == purpose, purposes.c.current_notice_version < notice.version).values(**changes))


_CATALOGUE = (
    select(purposes, purpose_notices.c.text_fr, purpose_notices.c.text_en, purpose_notices.c.material, purpose_notices.c.sha256)
    .join(purpose_notices, and_(purpose_notices.c.purpose == purposes.c.name,
                                purpose_notices.c.version == purposes.c.current_notice_version))
    .order_by(purposes.c.name)
)


def catalogue(conn: Connection, name: str | None = None) -> list[CatalogueEntry]:
    query = _CATALOGUE if name is None else _CATALOGUE.where(purposes.c.name == name)
    return [
        CatalogueEntry(
            name=row.name, legal_basis=row.legal_basis, categories=tuple(json.loads(row.categories)),
            recipients=tuple(json.loads(row.recipients)), retention_days=row.retention_days, per_request=row.per_request,
            notice=Notice(row.current_notice_version, row.text_fr, row.text_en, row.material), notice_sha256=row.sha256,
            min_notice_version=row.min_notice_version,
        )
        for row in conn.execute(query)
    ]


def live_consent_clause(subject_id: Any, purpose: Any, now: Any) -> ColumnElement[bool]:
    """A condition true while the subject's consent to ``purpose`` is live (granted, current notice, not expired).

    ``subject_id`` and ``purpose`` are values or columns of an enclosing query.
    """
    return and_(
        consent_states.c.subject_id == subject_id,
        consent_states.c.purpose == purpose,
        consent_states.c.state == "granted",
        consent_states.c.notice_version >= select(purposes.c.min_notice_version)
        .where(purposes.c.name == consent_states.c.purpose).scalar_subquery(),
        or_(consent_states.c.expires_at.is_(None), consent_states.c.expires_at > now),
    )


def current_states(conn: Connection, subject_id: str) -> dict[str, dict[str, Any]]:
    rows = conn.execute(select(consent_states).where(consent_states.c.subject_id == subject_id))
    return {row.purpose: row._asdict() for row in rows}


def record_event(conn: Connection, event: dict[str, Any], current: bool = True) -> None:
    """Append the event and (``current``) move the current state to it, in the caller's transaction.

    A consent given per request (``employer.contact``) has no current state of its own: its state is
    the request's (core.contact_requests), and only its events are kept here, with their receipts.
    """
    conn.execute(insert(consent_events).values(**event))
    if not current:
        return
    state = {
        "state": event["state"], "notice_version": event["notice_version"], "channel": event["channel"],
        "expires_at": event["expires_at"], "event_id": event["id"],
    }
    if event["state"] == "granted":
        state.update(granted_at=event["occurred_at"], withdrawn_at=None)
    else:
        state.update(withdrawn_at=event["occurred_at"])
    updated = conn.execute(
        update(consent_states)
        .where(consent_states.c.subject_id == event["subject_id"], consent_states.c.purpose == event["purpose"])
        .values(**state)
    )
    if updated.rowcount == 0:
        conn.execute(insert(consent_states).values(subject_id=event["subject_id"], purpose=event["purpose"], **state))


def notice_sha256(conn: Connection, purpose: str, version: int) -> str:
    digest: str = conn.execute(
        select(purpose_notices.c.sha256).where(purpose_notices.c.purpose == purpose, purpose_notices.c.version == version)
    ).scalar_one()
    return digest


def receipts(conn: Connection, subject_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(consent_events.c.id, consent_events.c.purpose, consent_events.c.state, consent_events.c.occurred_at,
               consent_events.c.receipt_jws)
        .where(consent_events.c.subject_id == subject_id)
        .order_by(consent_events.c.occurred_at, consent_events.c.id)
    )
    return [row._asdict() for row in rows]
