"""Tables of employers' searches.

NOTE: a search's criteria are codes and numbers an employer chose, about no seeker. What a seeker
was shown with (the explanation of their match) is sealed under that seeker's data key, so erasing
them leaves it unreadable; erasure deletes their appearances too.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models import UUID_LENGTH, Base, utcnow

REF_LENGTH = 32


class EmployerSearch(Base):
    """One search by a user of an employer: its criteria (JSON) and how many profiles matched."""

    __tablename__ = "employer_searches"
    id: Mapped[str] = mapped_column(String(UUID_LENGTH), primary_key=True)
    employer_id: Mapped[str] = mapped_column(ForeignKey("employers.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    criteria: Mapped[str] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer)
    shown: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_employer_searches_employer", "employer_id", "created_at"),)


class SearchAppearance(Base):
    """A seeker shown in a search, under the ``candidate_ref`` that employer knows them by."""

    __tablename__ = "search_appearances"
    search_id: Mapped[str] = mapped_column(ForeignKey("employer_searches.id"), primary_key=True)
    candidate_ref: Mapped[str] = mapped_column(String(REF_LENGTH), primary_key=True)
    employer_id: Mapped[str] = mapped_column(ForeignKey("employers.id"))
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    # The explanation of this match, sealed under the seeker's key (what the seeker reads).
    explanation: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_search_appearances_subject", "subject_id"),
        Index("ix_search_appearances_ref", "employer_id", "candidate_ref"),
    )


employer_searches = cast(Table, EmployerSearch.__table__)
search_appearances = cast(Table, SearchAppearance.__table__)
