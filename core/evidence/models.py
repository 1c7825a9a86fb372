"""The register of evidence documents issued: what verifying one needs, and nothing about anyone.

A row names a document by its digest and its short code; it holds the period and the number of
entries it covers, never the seeker (the audit entry of its generation does, under the seeker's
pseudonymous reference), so erasing a seeker leaves the register as it is.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import Date, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from core.models import UUID_LENGTH, Base


class EvidenceDocument(Base):
    __tablename__ = "evidence_documents"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column()
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    entry_count: Mapped[int] = mapped_column(Integer)
    # The signing key of its JWS (published in the JWKS with "dossier_use": "evidence").
    kid: Mapped[str] = mapped_column(String(100))


evidence_documents = cast(Table, EvidenceDocument.__table__)
