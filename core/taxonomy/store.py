"""Writing parsed taxonomy files to the database: concepts, labels and relations, in batches.

Everything is read once up front (code -> id maps, existing labels and relations) and written
with executemany, so the cost is a handful of statements whatever the size: round trips are the
main cost on PostgreSQL (docs/design.md). Only differences are written, so re-running an
import of the same files changes no row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from core.models import taxonomy_concepts, taxonomy_labels, taxonomy_relations
from core.taxonomy.errors import TaxonomyImportError
from core.taxonomy.kinds import Kind, Relation

SCHEME_LENGTH = 20
_A = {Kind.OCCUPATION: "an occupation", Kind.SKILL: "a skill"}


@dataclass
class ParsedConcept:
    """One concept as the files describe it; ``labels`` maps a language to (label, search text)."""

    kind: Kind
    isco_group: str | None = None
    esco_code: str | None = None
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class ParsedFiles:
    """The whole content of an import folder. ``relations`` is None when it has no relations file."""

    concepts: dict[str, ParsedConcept]
    languages: tuple[str, ...]
    relations: dict[tuple[str, str], Relation] | None


class _Stored(NamedTuple):
    id: int
    kind: str


def write(conn: Connection, files: ParsedFiles, scheme: str) -> tuple[int, int]:
    """Store ``files``; returns (relations held by the imported occupations, relations skipped)."""
    if not 0 < len(scheme) <= SCHEME_LENGTH:
        raise TaxonomyImportError(f"scheme {scheme!r} must be 1 to {SCHEME_LENGTH} characters long")
    stored = _upsert_concepts(conn, files.concepts, scheme)
    _upsert_labels(conn, files, stored)
    if files.relations is None:
        return 0, 0
    # An import owns the relations of the occupations it lists, and only those: a relation of
    # an occupation absent from its occupation files counts as unknown, like a missing skill.
    imported = {code for code, concept in files.concepts.items() if concept.kind is Kind.OCCUPATION}
    return _replace_relations(conn, files.relations, imported, stored)


def _load_concepts(conn: Connection) -> dict[str, _Stored]:
    rows = conn.execute(select(taxonomy_concepts.c.code, taxonomy_concepts.c.id, taxonomy_concepts.c.kind))
    return {code: _Stored(id_, kind) for code, id_, kind in rows}


def _upsert_concepts(conn: Connection, concepts: dict[str, ParsedConcept], scheme: str) -> dict[str, _Stored]:
    t = taxonomy_concepts
    rows = conn.execute(select(t.c.id, t.c.code, t.c.kind, t.c.scheme, t.c.isco_group, t.c.esco_code))
    existing = {row.code: row for row in rows}
    new: list[dict[str, object]] = []
    changed: list[dict[str, object]] = []
    for code, concept in concepts.items():
        row = existing.get(code)
        if row is None:
            new.append(
                {
                    "code": code,
                    "kind": concept.kind.value,
                    "scheme": scheme,
                    "isco_group": concept.isco_group,
                    "esco_code": concept.esco_code,
                }
            )
        elif row.kind != concept.kind:
            # Checked before the first write: profiles refer to codes, and a code silently
            # turning from a skill into an occupation would corrupt them.
            raise TaxonomyImportError(
                f"{code} is stored as {_A[row.kind]}, but the files list it as {_A[concept.kind]}"
            )
        elif (row.scheme, row.isco_group, row.esco_code) != (scheme, concept.isco_group, concept.esco_code):
            changed.append(
                {"b_id": row.id, "b_scheme": scheme, "b_isco": concept.isco_group, "b_esco": concept.esco_code}
            )
    if new:
        conn.execute(insert(t), new)
    if changed:
        conn.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(scheme=bindparam("b_scheme"), isco_group=bindparam("b_isco"), esco_code=bindparam("b_esco")),
            changed,
        )
    if new:
        return _load_concepts(conn)
    return {row.code: _Stored(row.id, row.kind) for row in existing.values()}


def _upsert_labels(conn: Connection, files: ParsedFiles, stored: dict[str, _Stored]) -> None:
    t = taxonomy_labels
    rows = conn.execute(
        select(t.c.concept_id, t.c.lang, t.c.label, t.c.search_text).where(t.c.lang.in_(files.languages))
    )
    existing = {(concept_id, lang): (label, text) for concept_id, lang, label, text in rows}
    new: list[dict[str, object]] = []
    changed: list[dict[str, object]] = []
    for code, concept in files.concepts.items():
        concept_id = stored[code].id
        for lang, (label, text) in concept.labels.items():
            current = existing.get((concept_id, lang))
            if current is None:
                new.append({"concept_id": concept_id, "lang": lang, "label": label, "search_text": text})
            elif current != (label, text):
                changed.append({"b_id": concept_id, "b_lang": lang, "b_label": label, "b_text": text})
    if new:
        conn.execute(insert(t), new)
    if changed:
        conn.execute(
            update(t)
            .where(t.c.concept_id == bindparam("b_id"), t.c.lang == bindparam("b_lang"))
            .values(label=bindparam("b_label"), search_text=bindparam("b_text")),
            changed,
        )


def _replace_relations(
    conn: Connection, relations: dict[tuple[str, str], Relation], imported: set[str], stored: dict[str, _Stored]
) -> tuple[int, int]:
    wanted: dict[tuple[int, int], str] = {}
    skipped = 0
    for (occupation, skill), relation in relations.items():
        skill_row = stored.get(skill)
        if occupation not in imported or skill_row is None or skill_row.kind != Kind.SKILL:
            skipped += 1
            continue
        wanted[(stored[occupation].id, skill_row.id)] = relation.value

    t = taxonomy_relations
    occupation_ids = {stored[code].id for code in imported}
    current = {
        (occupation_id, skill_id): relation
        for occupation_id, skill_id, relation in conn.execute(select(t.c.occupation_id, t.c.skill_id, t.c.relation))
        if occupation_id in occupation_ids
    }
    gone = [{"b_occ": o, "b_skill": s} for (o, s) in current.keys() - wanted.keys()]
    new = [{"occupation_id": o, "skill_id": s, "relation": r} for (o, s), r in wanted.items() if (o, s) not in current]
    changed = [
        {"b_occ": o, "b_skill": s, "b_rel": r} for (o, s), r in wanted.items() if current.get((o, s), r) != r
    ]
    pair = (t.c.occupation_id == bindparam("b_occ"), t.c.skill_id == bindparam("b_skill"))
    if gone:
        conn.execute(delete(t).where(*pair), gone)
    if new:
        conn.execute(insert(t), new)
    if changed:
        conn.execute(update(t).where(*pair).values(relation=bindparam("b_rel")), changed)
    return len(wanted), skipped
