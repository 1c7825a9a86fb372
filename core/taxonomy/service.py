"""Use cases of the taxonomy: load the shipped default, search concepts, check codes, list skills.

Every function takes the caller's connection and neither commits nor opens a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Iterable
from importlib import resources
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.engine import Connection

from core.models import taxonomy_concepts, taxonomy_labels, taxonomy_relations
from core.taxonomy.esco import ImportReport, import_esco
from core.taxonomy.kinds import Kind, Relation
from core.taxonomy.text import normalise

DEFAULT_SCHEME = "dossier"

_fr = taxonomy_labels.alias("label_fr")
_en = taxonomy_labels.alias("label_en")
_concepts = taxonomy_concepts
# The search text starts with the normalised preferred label: ordering by it is accent-insensitive.
# Concepts without a French label (ESCO ships few French skills) follow, by English label.
_BY_LABEL = (_fr.c.search_text.is_(None), _fr.c.search_text, _en.c.search_text, _concepts.c.code)


def load_default(conn: Connection) -> ImportReport:
    """Import the project's own taxonomy shipped in ``core/taxonomy/data`` (scheme "dossier")."""
    # resources.files() rather than __file__: it also finds the data in an installed wheel.
    return import_esco(conn, resources.files("core.taxonomy") / "data", scheme=DEFAULT_SCHEME)


@dataclass(frozen=True, slots=True)
class Concept:
    """An occupation or a skill: its code and its labels (None where the taxonomy has none)."""

    code: str
    label_fr: str | None
    label_en: str | None


@dataclass(frozen=True, slots=True)
class SkillOfOccupation:
    code: str
    relation: str  # essential or optional
    label_fr: str | None
    label_en: str | None


def search(conn: Connection, kind: str, q: str | None, limit: int = 50) -> list[Concept]:
    """Concepts of ``kind`` whose labels (preferred or alternative, any language) contain ``q``.

    Matching ignores case and accents; without ``q`` every concept of the kind is listed. Results
    are ordered by French label (accent-insensitive; concepts without one last, by English
    label), then code.
    """
    kind = Kind(kind)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    query = _labelled(select(_concepts.c.code)).where(_concepts.c.kind == kind.value)
    needle = normalise(q or "")
    if needle:
        any_label = taxonomy_labels.alias("any_label")
        query = query.where(
            exists().where(
                any_label.c.concept_id == _concepts.c.id,
                # autoescape: a % or _ typed by the user is matched literally, not as a wildcard.
                any_label.c.search_text.contains(needle, autoescape=True),
            )
        )
    query = query.order_by(*_BY_LABEL).limit(limit)
    return [Concept(row.code, row.label_fr, row.label_en) for row in conn.execute(query)]


def unknown_codes(conn: Connection, kind: str, codes: Iterable[str]) -> list[str]:
    """The ``codes`` that are not concepts of ``kind``, deduplicated, in the order given."""
    kind = Kind(kind)
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return []
    known = set(
        conn.scalars(select(_concepts.c.code).where(_concepts.c.kind == kind.value, _concepts.c.code.in_(wanted)))
    )
    return [code for code in wanted if code not in known]


def skills_of(conn: Connection, occupation_code: str) -> list[SkillOfOccupation]:
    """The skills of an occupation, essential first, then by French label and code; none for an
    unknown occupation."""
    occupation = taxonomy_concepts.alias("occupation")
    rel = taxonomy_relations
    query = (
        _labelled(select(_concepts.c.code, rel.c.relation))
        .join(rel, rel.c.skill_id == _concepts.c.id)
        .join(occupation, occupation.c.id == rel.c.occupation_id)
        .where(occupation.c.code == occupation_code, occupation.c.kind == Kind.OCCUPATION.value)
        .order_by(rel.c.relation != Relation.ESSENTIAL.value, *_BY_LABEL)
    )
    return [SkillOfOccupation(row.code, row.relation, row.label_fr, row.label_en) for row in conn.execute(query)]


# Related occupations: at most this many, each sharing at least this share of the essential skills
# of the occupation searched (or in its ISCO unit group, which counts as this share).
RELATED_LIMIT = 10
RELATED_MINIMUM = 0.3
SAME_ISCO_GROUP = 0.5


def related_occupations(conn: Connection, occupation_code: str) -> dict[str, float]:
    """Occupations close to ``occupation_code``: code -> similarity in (0, 1], the share of its
    essential skills they also need as essential (at least ``SAME_ISCO_GROUP`` for an occupation of
    the same ISCO unit group), the closest first; none for an unknown occupation."""
    target = conn.execute(select(_concepts.c.id, _concepts.c.isco_group)
                          .where(_concepts.c.code == occupation_code, _concepts.c.kind == Kind.OCCUPATION.value)).first()
    if target is None:
        return {}
    rel, other = taxonomy_relations, taxonomy_relations.alias("other")
    essential = list(conn.scalars(select(rel.c.skill_id).where(rel.c.occupation_id == target.id,
                                                               rel.c.relation == Relation.ESSENTIAL.value)))
    similarity: dict[int, float] = {}
    if essential:
        shared = conn.execute(
            select(other.c.occupation_id, func.count())
            .where(other.c.skill_id.in_(essential), other.c.relation == Relation.ESSENTIAL.value,
                   other.c.occupation_id != target.id)
            .group_by(other.c.occupation_id)
        ).all()
        similarity = {occupation: count / len(essential) for occupation, count in shared}
    if target.isco_group:
        for occupation in conn.scalars(select(_concepts.c.id).where(_concepts.c.isco_group == target.isco_group,
                                                                    _concepts.c.kind == Kind.OCCUPATION.value,
                                                                    _concepts.c.id != target.id)):
            similarity[occupation] = max(similarity.get(occupation, 0.0), SAME_ISCO_GROUP)
    close = sorted(((share, occupation) for occupation, share in similarity.items() if share >= RELATED_MINIMUM),
                   key=lambda item: (-item[0], item[1]))[:RELATED_LIMIT]
    if not close:
        return {}
    codes = dict(conn.execute(select(_concepts.c.id, _concepts.c.code).where(_concepts.c.id.in_([o for _, o in close]))).all())
    return {codes[occupation]: round(share, 4) for share, occupation in close}


def labels_of(conn: Connection, codes: Iterable[str]) -> dict[str, dict[str, str]]:
    """code -> {"fr": ..., "en": ...} (the languages the taxonomy has) for the known ``codes``."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    found: dict[str, dict[str, str]] = {}
    rows = conn.execute(select(_concepts.c.code, taxonomy_labels.c.lang, taxonomy_labels.c.label)
                        .join(taxonomy_labels, taxonomy_labels.c.concept_id == _concepts.c.id)
                        .where(_concepts.c.code.in_(wanted), taxonomy_labels.c.lang.in_(("fr", "en"))))
    for code, lang, label in rows:
        found.setdefault(code, {})[lang] = label
    return found


def _labelled(query: Select[Any]) -> Select[Any]:
    """``query`` over concepts with their French and English labels joined (None when missing)."""
    return (
        query.add_columns(_fr.c.label.label("label_fr"), _en.c.label.label("label_en"))
        .select_from(_concepts)
        .outerjoin(_fr, and_(_fr.c.concept_id == _concepts.c.id, _fr.c.lang == "fr"))
        .outerjoin(_en, and_(_en.c.concept_id == _concepts.c.id, _en.c.lang == "en"))
    )
