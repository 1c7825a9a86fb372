"""Import of a folder in the official ESCO CSV download layout.

The folder holds ``occupations_<lang>.csv`` and ``skills_<lang>.csv`` for each language, and one
relations file: ``occupationSkillRelations.csv`` (ESCO v1.1.x) or ``occupationSkillRelations_<lang>.csv``
(v1.2, the same relations plus label columns). The project's default taxonomy uses the same layout.

Every file is read and checked before the first write, so bad input raises before it changes
anything; the caller owns the transaction and rolls it back on any error.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from sqlalchemy.engine import Connection

from core.taxonomy.errors import TaxonomyImportError
from core.taxonomy.kinds import Kind, Relation
from core.taxonomy.store import ParsedConcept, ParsedFiles, write
from core.taxonomy.text import search_text

__all__ = ["ImportReport", "TaxonomyImportError", "import_esco"]

_LANG = r"([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,4})?)"  # fits taxonomy_labels.lang (8 characters)
_OCCUPATIONS = re.compile(rf"occupations_{_LANG}\.csv")
_SKILLS = re.compile(rf"skills_{_LANG}\.csv")
_RELATIONS = re.compile(rf"occupationSkillRelations(?:_{_LANG})?\.csv")

# Column widths of taxonomy_concepts: checked here so that SQLite, which does not enforce them,
# refuses the same files as PostgreSQL.
_CODE_LENGTH = 255
_ISCO_LENGTH = 10
_ESCO_CODE_LENGTH = 40


@dataclass(frozen=True)
class ImportReport:
    """What one import found: concepts and relations in the files, and the relations skipped."""

    occupations: int
    skills: int
    relations: int
    languages: tuple[str, ...]
    skipped_relations: int


def import_esco(conn: Connection, folder: Path | Traversable, scheme: str = "esco") -> ImportReport:
    """Import (or re-import) the ESCO-layout CSV files in ``folder`` within the caller's transaction.

    New concepts are added, labels and ISCO/ESCO codes updated, and the relations of the imported
    occupations replaced by those of the relations file (left alone when there is none).
    Relations naming an unknown occupation or skill are skipped and counted.
    Raises ``TaxonomyImportError`` when the folder or a file is unusable.
    """
    files = parse_folder(folder)
    relations, skipped = write(conn, files, scheme)
    return ImportReport(
        occupations=sum(1 for c in files.concepts.values() if c.kind is Kind.OCCUPATION),
        skills=sum(1 for c in files.concepts.values() if c.kind is Kind.SKILL),
        relations=relations,
        languages=files.languages,
        skipped_relations=skipped,
    )


def parse_folder(folder: Path | Traversable) -> ParsedFiles:
    """Read and check every taxonomy file of ``folder``, without touching the database."""
    if not folder.is_dir():
        raise TaxonomyImportError(f"{folder} is not a folder")
    occupation_files: list[tuple[str, Traversable]] = []
    skill_files: list[tuple[str, Traversable]] = []
    relation_files: list[tuple[str | None, Traversable]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.is_file():
            continue
        if match := _OCCUPATIONS.fullmatch(entry.name):
            occupation_files.append((match[1].lower(), entry))
        elif match := _SKILLS.fullmatch(entry.name):
            skill_files.append((match[1].lower(), entry))
        elif match := _RELATIONS.fullmatch(entry.name):
            relation_files.append((match[1] and match[1].lower(), entry))
    if not occupation_files:
        raise TaxonomyImportError(f"{folder}: no occupations_<lang>.csv file, this is not an ESCO CSV folder")

    concepts: dict[str, ParsedConcept] = {}
    for lang, entry in occupation_files:
        _read_concepts(entry, lang, Kind.OCCUPATION, concepts)
    for lang, entry in skill_files:
        _read_concepts(entry, lang, Kind.SKILL, concepts)
    languages = tuple(sorted({lang for lang, _ in occupation_files + skill_files}))
    relations = None
    if relation_files:
        # v1.2 repeats the same relations in every language's file: read one, preferring the
        # language-independent v1.1 file, then English.
        _, entry = min(relation_files, key=lambda f: (f[0] is not None, f[0] != "en", f[1].name))
        relations = _read_relations(entry)
    return ParsedFiles(concepts=concepts, languages=languages, relations=relations)


def _read_concepts(entry: Traversable, lang: str, kind: Kind, concepts: dict[str, ParsedConcept]) -> None:
    columns = ["conceptUri", "preferredLabel", "altLabels"]
    # ``code`` is optional: ESCO before v1.1 had no such column.
    required, optional = (columns + ["iscoGroup"], ["code"]) if kind is Kind.OCCUPATION else (columns, [])
    for line, values in _read(entry, required, optional):
        uri, preferred, alternatives = values[0].strip(), values[1].strip(), values[2]
        where = f"{entry.name}, line {line}"
        if not uri:
            raise TaxonomyImportError(f"{where}: empty conceptUri")
        if len(uri) > _CODE_LENGTH:
            raise TaxonomyImportError(f"{where}: conceptUri longer than {_CODE_LENGTH} characters")
        concept = concepts.setdefault(uri, ParsedConcept(kind=kind))
        if concept.kind is not kind:
            raise TaxonomyImportError(f"{where}: {uri} is listed both as an occupation and as a skill")
        if kind is Kind.OCCUPATION:
            concept.isco_group = concept.isco_group or _bounded(values[3], _ISCO_LENGTH, where, "iscoGroup")
            concept.esco_code = concept.esco_code or _bounded(values[4], _ESCO_CODE_LENGTH, where, "code")
        # Some translations lack a label; the concept still exists through its other languages.
        if preferred:
            concept.labels[lang] = (preferred, search_text(preferred, alternatives.splitlines()))


def _bounded(value: str, length: int, where: str, column: str) -> str | None:
    value = value.strip()
    if len(value) > length:
        raise TaxonomyImportError(f"{where}: {column} longer than {length} characters")
    return value or None


def _read_relations(entry: Traversable) -> dict[tuple[str, str], Relation]:
    relations: dict[tuple[str, str], Relation] = {}
    for line, (occupation, relation_type, skill) in _read(entry, ["occupationUri", "relationType", "skillUri"]):
        try:
            relation = Relation(relation_type.strip())
        except ValueError:
            raise TaxonomyImportError(
                f"{entry.name}, line {line}: relationType {relation_type!r} is neither 'essential' nor 'optional'"
            ) from None
        key = (occupation.strip(), skill.strip())
        # A pair listed twice keeps its stronger relation.
        if relations.get(key) is not Relation.ESSENTIAL:
            relations[key] = relation
    return relations


def _read(entry: Traversable, required: Sequence[str], optional: Sequence[str] = ()) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line, values of ``required`` then ``optional`` columns) for each record.

    ``utf-8-sig`` drops a BOM if there is one; ``newline=""`` lets the csv module handle CRLF
    and LF alike, including line breaks inside quoted fields (ESCO's multi-valued columns).
    """
    with entry.open("r", encoding="utf-8-sig", newline="") as handle:  # type: ignore[call-overload]
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader, [])]
            missing = [name for name in required if name not in header]
            if missing:
                names = ", ".join(repr(name) for name in missing)
                raise TaxonomyImportError(f"{entry.name}: missing column{'s' if len(missing) > 1 else ''} {names}")
            positions = [header.index(name) if name in header else None for name in (*required, *optional)]
            start = reader.line_num + 1
            for row in reader:
                # A record can span several lines (quoted line breaks): report the first one.
                line, start = start, reader.line_num + 1
                if any(row):
                    yield line, [row[p] if p is not None and p < len(row) else "" for p in positions]
        except UnicodeDecodeError:
            raise TaxonomyImportError(f"{entry.name}, near line {reader.line_num + 1}: not UTF-8 text") from None
        except csv.Error as exc:
            raise TaxonomyImportError(f"{entry.name}, line {reader.line_num}: {exc}") from None
