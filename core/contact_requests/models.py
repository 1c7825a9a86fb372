"""The table of contact requests.

NOTE: the employer's message is sealed under the seeker's key; the rest are references, states and
times. Erasing the seeker deletes their requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from core.models import UUID_LENGTH, Base
from core.search.models import REF_LENGTH


class ContactRequest(Base):
    """An employer's request to contact a candidate it was shown, and the seeker's answer.

    ``state``: ``pending`` (until ``expires_at``), ``accepted`` (the seeker gave this employer their
    name and contact details: ``receipt_id`` is the consent's receipt), ``refused``, or
    ``withdrawn`` (an acceptance the seeker took back). The message is sealed under the seeker's key.
    """

    __tablename__ = "contact_requests"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    employer_id: Mapped[str] = mapped_column(ForeignKey("employers.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    candidate_ref: Mapped[str] = mapped_column(String(REF_LENGTH))
    message: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    receipt_id: Mapped[str | None] = mapped_column(String(UUID_LENGTH))

    __table_args__ = (
        CheckConstraint("state IN ('pending','accepted','refused','withdrawn')", name="state"),
        Index("ix_contact_requests_employer", "employer_id", "created_at"),
        Index("ix_contact_requests_subject", "subject_id", "created_at"),
    )


contact_requests = cast(Table, ContactRequest.__table__)
