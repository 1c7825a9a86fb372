"""Taxonomies that plugins provide (``dossier_taxonomy_sources``): read, checked, then written the
way an ESCO folder is (core.taxonomy.store), so that re-importing a source changes no row.

A source is plugin code run by an operator's command; it carries codes and labels, nothing about
a person. What it yields is checked in full before the first write.
"""

from __future__ import annotations

import re

from core.plugins.gateway import PluginGateway
from core.runtime import Runtime
from core.taxonomy.errors import TaxonomyImportError
from core.taxonomy.esco import ImportReport
from core.taxonomy.kinds import Kind, Relation
from core.taxonomy.store import SCHEME_LENGTH, ParsedConcept, ParsedFiles, write
from core.taxonomy.text import search_text
from plugins.api import TaxonomySource

_LANG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{1,4})?\Z")
_CODE_LENGTH = 255
_LABEL_LENGTH = 500


def import_source(rt: Runtime, plugins: PluginGateway, plugin: str, source: TaxonomySource) -> ImportReport:
    """Import (or re-import) a plugin's taxonomy: read it in the plugin's isolated call, then write it
    in a transaction of its own (the plugin's code never runs while the database is locked)."""
    if not 0 < len(source.name) <= SCHEME_LENGTH:
        raise TaxonomyImportError(f"source name {source.name!r} must be 1 to {SCHEME_LENGTH} characters long")
    result = plugins.read_taxonomy(plugin, source, _parsed_or_refused)
    if not result.ok:
        raise TaxonomyImportError(f"{source.name}: the source failed ({result.error})")
    if isinstance(result.value, TaxonomyImportError):
        raise result.value  # its message names a concept by position, never a person
    files: ParsedFiles = result.value
    with rt.transaction() as conn:
        relations, skipped = write(conn, files, source.name)
    return ImportReport(
        occupations=sum(1 for c in files.concepts.values() if c.kind is Kind.OCCUPATION),
        skills=sum(1 for c in files.concepts.values() if c.kind is Kind.SKILL),
        relations=relations, languages=files.languages, skipped_relations=skipped,
    )


def _parsed_or_refused(source: TaxonomySource) -> ParsedFiles | TaxonomyImportError:
    try:
        return parse(source)
    except TaxonomyImportError as refused:
        return refused


def parse(source: TaxonomySource) -> ParsedFiles:
    """What the source yields, as an import folder would give it; raises on anything unusable."""
    concepts: dict[str, ParsedConcept] = {}
    languages: set[str] = set()
    try:
        for number, concept in enumerate(source.concepts(), 1):
            where = f"{source.name}: concept {number}"
            code = concept.code.strip() if isinstance(concept.code, str) else ""
            if not code or len(code) > _CODE_LENGTH:
                raise TaxonomyImportError(f"{where}: a code is 1 to {_CODE_LENGTH} characters")
            try:
                kind = Kind(concept.kind)
            except ValueError:
                raise TaxonomyImportError(f"{where}: kind must be occupation or skill") from None
            if code in concepts:
                raise TaxonomyImportError(f"{where}: {code} is listed twice")
            parsed = concepts[code] = ParsedConcept(kind=kind)
            for lang, label in dict(concept.labels).items():
                if not isinstance(lang, str) or not _LANG.match(lang) or not isinstance(label, str):
                    raise TaxonomyImportError(f"{where}: labels map a language code (fr, en, de-ch) to a text")
                if label.strip():
                    if len(label) > _LABEL_LENGTH:
                        raise TaxonomyImportError(f"{where}: a label is at most {_LABEL_LENGTH} characters")
                    parsed.labels[lang] = (label.strip(), search_text(label.strip(), []))
                    languages.add(lang)
        relations: dict[tuple[str, str], Relation] = {}
        for relation in source.relations():
            relations[(relation.occupation, relation.skill)] = Relation.ESSENTIAL if relation.essential else Relation.OPTIONAL
    except TaxonomyImportError:
        raise
    except Exception as exc:
        raise TaxonomyImportError(f"{source.name}: the source failed ({type(exc).__name__})") from None
    if not concepts:
        raise TaxonomyImportError(f"{source.name}: the source yields no concept")
    return ParsedFiles(concepts=concepts, languages=tuple(sorted(languages)), relations=relations)
