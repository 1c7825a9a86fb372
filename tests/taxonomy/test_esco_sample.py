"""Importing the real ESCO v1.1.1 sample (skipped when the sample folder is absent)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from core.models import taxonomy_concepts, taxonomy_labels, taxonomy_relations
from core.taxonomy.esco import ImportReport, TaxonomyImportError, import_esco
from core.taxonomy.service import search, skills_of

MakeFolder = Callable[..., Path]
Snapshot = Callable[[Connection], Any]

TILE_FITTER = "http://data.europa.eu/esco/occupation/02447817-ea01-4d8b-b09c-8bc128e447e6"
# The one skill of the sample with an empty skillType, and its two relation rows.
UNTYPED_SKILL = "http://data.europa.eu/esco/skill/c13fb093-5ffb-491a-b8b7-fa2d42a57e2e"

SAMPLE_REPORT = ImportReport(
    occupations=234, skills=3458, relations=11027, languages=("en", "fr"), skipped_relations=0
)


def count(conn: Connection, table: object, *where: object) -> int:
    return conn.scalar(select(func.count()).select_from(table).where(*where))  # type: ignore[arg-type]


def read_sample(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_imports_every_concept_label_and_relation_of_the_sample(engine: Engine, esco_sample: Path) -> None:
    with engine.begin() as conn:
        report = import_esco(conn, esco_sample)

        assert report == SAMPLE_REPORT
        assert count(conn, taxonomy_concepts, taxonomy_concepts.c.kind == "occupation") == 234
        assert count(conn, taxonomy_concepts, taxonomy_concepts.c.kind == "skill") == 3458
        assert count(conn, taxonomy_concepts, taxonomy_concepts.c.scheme != "esco") == 0
        assert count(conn, taxonomy_relations) == 11027
        assert count(conn, taxonomy_relations, taxonomy_relations.c.relation == "essential") == 5079
        # Occupations in English and French; skills in English only (the sample has no skills_fr.csv).
        assert count(conn, taxonomy_labels, taxonomy_labels.c.lang == "fr") == 234
        assert count(conn, taxonomy_labels, taxonomy_labels.c.lang == "en") == 234 + 3458


def test_keeps_the_isco_group_the_esco_code_and_the_labels_of_an_occupation(engine: Engine, esco_sample: Path) -> None:
    with engine.begin() as conn:
        import_esco(conn, esco_sample)
        tile_fitter = conn.execute(
            select(taxonomy_concepts).where(taxonomy_concepts.c.code == TILE_FITTER)
        ).one()
        labels = dict(
            conn.execute(
                select(taxonomy_labels.c.lang, taxonomy_labels.c.label).where(
                    taxonomy_labels.c.concept_id == tile_fitter.id
                )
            ).all()
        )

    assert (tile_fitter.kind, tile_fitter.scheme, tile_fitter.isco_group, tile_fitter.esco_code) == (
        "occupation",
        "esco",
        "7122",
        "7122.4",
    )
    assert "carreleur" in labels["fr"]
    assert labels["en"] == "tile fitter"


def test_alternative_labels_from_multi_line_fields_are_searchable(engine: Engine, esco_sample: Path) -> None:
    with engine.begin() as conn:
        import_esco(conn, esco_sample)
        # "faïencier" is the 7th line of a quoted multi-line altLabels field (LF file), "tile setter"
        # the 4th of one in a CRLF file; neither is a preferred label.
        assert [r.code for r in search(conn, "occupation", "FAIENCIER")] == [TILE_FITTER]
        assert TILE_FITTER in [r.code for r in search(conn, "occupation", "tile setter")]
        assert [r.code for r in search(conn, "occupation", "carreleur chef d’équipe")] == [TILE_FITTER]


def test_a_skill_with_an_empty_skill_type_is_imported_with_its_relations(engine: Engine, esco_sample: Path) -> None:
    with engine.begin() as conn:
        import_esco(conn, esco_sample)
        skill = conn.execute(select(taxonomy_concepts).where(taxonomy_concepts.c.code == UNTYPED_SKILL)).one()
        assert skill.kind == "skill"
        assert count(conn, taxonomy_relations, taxonomy_relations.c.skill_id == skill.id) == 2


def test_reimporting_the_sample_changes_nothing(engine: Engine, esco_sample: Path, snapshot: Snapshot) -> None:
    with engine.begin() as conn:
        import_esco(conn, esco_sample)
        before = snapshot(conn)
    with engine.begin() as conn:
        assert import_esco(conn, esco_sample) == SAMPLE_REPORT
        assert snapshot(conn) == before


def test_reads_the_v1_2_relations_file_name_and_columns(
    engine: Engine, esco_sample: Path, make_folder: MakeFolder
) -> None:
    occupations = [r for r in read_sample(esco_sample / "occupations_en.csv") if r["conceptUri"] == TILE_FITTER]
    relations = [
        r for r in read_sample(esco_sample / "occupationSkillRelations.csv") if r["occupationUri"] == TILE_FITTER
    ]
    skill_codes = {r["skillUri"] for r in relations}
    skills = [r for r in read_sample(esco_sample / "skills_en.csv") if r["conceptUri"] in skill_codes]
    labels = {r["conceptUri"]: r["preferredLabel"] for r in occupations + skills}
    # v1.2 adds label columns; the order below differs from v1.1 on purpose: columns go by name.
    v12_header = ["occupationUri", "occupationLabel", "relationType", "skillType", "skillUri", "skillLabel"]
    v12_rows = [
        {**r, "occupationLabel": labels[r["occupationUri"]], "skillLabel": labels[r["skillUri"]]} for r in relations
    ]
    folder = make_folder({"occupations_en.csv": occupations, "skills_en.csv": skills})
    with (folder / "occupationSkillRelations_en.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, v12_header)
        writer.writeheader()
        writer.writerows(v12_rows)

    with engine.begin() as conn:
        report = import_esco(conn, folder)
        listed = skills_of(conn, TILE_FITTER)

    assert report == ImportReport(
        occupations=1, skills=len(skills), relations=41, languages=("en",), skipped_relations=0
    )
    assert {r.code for r in listed} == skill_codes
    assert sum(r.relation == "essential" for r in listed) == 17


@pytest.mark.parametrize(
    ("broken_file", "header", "missing"),
    [
        ("skills_en.csv", ["conceptType", "conceptUri", "skillType", "altLabels"], "preferredLabel"),
        ("occupationSkillRelations.csv", ["occupationUri", "relationType", "skillType"], "skillUri"),
    ],
)
def test_a_file_missing_a_column_is_refused_and_changes_nothing(
    engine: Engine,
    esco_sample: Path,
    make_folder: MakeFolder,
    snapshot: Snapshot,
    broken_file: str,
    header: list[str],
    missing: str,
) -> None:
    with engine.begin() as conn:
        import_esco(conn, esco_sample)
        before = snapshot(conn)
    # Without the broken column, these files would rename the tile fitter and a skill, and
    # replace the tile fitter's 41 relations by one.
    folder = make_folder(
        {
            "occupations_en.csv": [{"conceptUri": TILE_FITTER, "iscoGroup": "7122", "preferredLabel": "tiler"}],
            "skills_en.csv": [{"conceptUri": UNTYPED_SKILL, "preferredLabel": "renamed"}],
            "occupationSkillRelations.csv": [
                {"occupationUri": TILE_FITTER, "relationType": "optional", "skillUri": UNTYPED_SKILL}
            ],
        },
        headers={broken_file: header},
    )

    with pytest.raises(TaxonomyImportError) as raised, engine.begin() as conn:
        import_esco(conn, folder)

    assert str(raised.value) == f"{broken_file}: missing column '{missing}'"
    with engine.connect() as conn:
        assert snapshot(conn) == before
