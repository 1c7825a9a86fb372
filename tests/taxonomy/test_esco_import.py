"""The ESCO-layout importer on small folders written by each test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from core.models import taxonomy_concepts, taxonomy_labels
from core.taxonomy.esco import ImportReport, TaxonomyImportError, import_esco
from core.taxonomy.service import Concept, search, skills_of

MakeFolder = Callable[..., Path]
Snapshot = Callable[[Connection], Any]

WELDER = {
    "conceptUri": "occ.welder",
    "iscoGroup": "7212",
    "preferredLabel": "welder",
    "altLabels": "TIG welder\nwelder fabricator",
}
SOUDEUR = {**WELDER, "preferredLabel": "soudeur/soudeuse", "altLabels": "soudeuse"}
TIG = {"conceptUri": "skill.tig", "skillType": "skill/competence", "preferredLabel": "TIG welding"}
CUT = {"conceptUri": "skill.cut", "skillType": "skill/competence", "preferredLabel": "cut metal"}
SAFETY = {"conceptUri": "skill.safety", "skillType": "knowledge", "preferredLabel": "health and safety"}


def rel(occupation: str, skill: str, relation: str = "essential") -> dict[str, str]:
    return {"occupationUri": occupation, "relationType": relation, "skillType": "skill/competence", "skillUri": skill}


def relations_of(conn: Connection, occupation: str) -> dict[str, str]:
    return {r.code: r.relation for r in skills_of(conn, occupation)}


def labels(conn: Connection, code: str) -> dict[str, tuple[str, str]]:
    rows = conn.execute(
        select(taxonomy_labels.c.lang, taxonomy_labels.c.label, taxonomy_labels.c.search_text)
        .join(taxonomy_concepts, taxonomy_concepts.c.id == taxonomy_labels.c.concept_id)
        .where(taxonomy_concepts.c.code == code)
    )
    return {lang: (label, text) for lang, label, text in rows}


def test_imports_concepts_labels_and_relations(engine: Engine, make_folder: MakeFolder) -> None:
    folder = make_folder(
        {
            "occupations_en.csv": [WELDER],
            "occupations_fr.csv": [SOUDEUR],
            "skills_en.csv": [TIG, CUT],
            "occupationSkillRelations.csv": [
                rel("occ.welder", "skill.tig"),
                rel("occ.welder", "skill.cut", "optional"),
            ],
        }
    )
    with engine.begin() as conn:
        report = import_esco(conn, folder, scheme="test")
        concept = conn.execute(select(taxonomy_concepts).where(taxonomy_concepts.c.code == "occ.welder")).one()

        assert report == ImportReport(occupations=1, skills=2, relations=2, languages=("en", "fr"), skipped_relations=0)
        assert (concept.kind, concept.scheme, concept.isco_group) == ("occupation", "test", "7212")
        assert concept.esco_code is None
        assert labels(conn, "occ.welder") == {
            "en": ("welder", "welder\ntig welder\nwelder fabricator"),
            "fr": ("soudeur/soudeuse", "soudeur/soudeuse\nsoudeuse"),
        }
        assert relations_of(conn, "occ.welder") == {"skill.tig": "essential", "skill.cut": "optional"}


def test_reads_crlf_files_with_a_bom(engine: Engine, make_folder: MakeFolder) -> None:
    folder = make_folder(
        {
            "occupations_en.csv": [WELDER],
            "skills_en.csv": [TIG],
            "occupationSkillRelations.csv": [rel("occ.welder", "skill.tig")],
        },
        newline="\r\n",
        bom=True,
    )
    with engine.begin() as conn:
        assert import_esco(conn, folder).relations == 1
        # The alternative labels, split on the line breaks inside the quoted field, without "\r".
        assert labels(conn, "occ.welder")["en"][1] == "welder\ntig welder\nwelder fabricator"


def test_relations_to_unknown_concepts_are_counted_and_skipped(engine: Engine, make_folder: MakeFolder) -> None:
    folder = make_folder(
        {
            "occupations_en.csv": [WELDER],
            "skills_en.csv": [TIG],
            "occupationSkillRelations.csv": [
                rel("occ.welder", "skill.tig"),
                rel("occ.welder", "skill.unknown"),
                rel("occ.unknown", "skill.tig"),
                # An occupation used as a skill is as unknown as a missing one.
                rel("occ.welder", "occ.welder"),
            ],
        }
    )
    with engine.begin() as conn:
        report = import_esco(conn, folder)
        assert (report.relations, report.skipped_relations) == (1, 3)
        assert relations_of(conn, "occ.welder") == {"skill.tig": "essential"}


def test_a_pair_listed_twice_keeps_the_essential_relation(engine: Engine, make_folder: MakeFolder) -> None:
    folder = make_folder(
        {
            "occupations_en.csv": [WELDER],
            "skills_en.csv": [TIG],
            "occupationSkillRelations.csv": [
                rel("occ.welder", "skill.tig"),
                rel("occ.welder", "skill.tig", "optional"),
            ],
        }
    )
    with engine.begin() as conn:
        assert import_esco(conn, folder).relations == 1
        assert relations_of(conn, "occ.welder") == {"skill.tig": "essential"}


def test_reimport_updates_labels_adds_concepts_and_replaces_relations(
    engine: Engine, make_folder: MakeFolder
) -> None:
    first = make_folder(
        {
            "occupations_en.csv": [WELDER],
            "skills_en.csv": [TIG, CUT],
            "occupationSkillRelations.csv": [rel("occ.welder", "skill.tig"), rel("occ.welder", "skill.cut")],
        },
        name="v1",
    )
    second = make_folder(
        {
            "occupations_en.csv": [{**WELDER, "preferredLabel": "welder (all processes)", "iscoGroup": "7213"}],
            "occupations_fr.csv": [SOUDEUR],
            "skills_en.csv": [TIG, CUT, SAFETY],
            "occupationSkillRelations.csv": [
                rel("occ.welder", "skill.tig", "optional"),
                rel("occ.welder", "skill.safety"),
            ],
        },
        name="v2",
    )
    with engine.begin() as conn:
        import_esco(conn, first)
    with engine.begin() as conn:
        report = import_esco(conn, second)

        assert report == ImportReport(occupations=1, skills=3, relations=2, languages=("en", "fr"), skipped_relations=0)
        assert labels(conn, "occ.welder")["en"][0] == "welder (all processes)"
        assert "fr" in labels(conn, "occ.welder")
        isco = conn.scalar(select(taxonomy_concepts.c.isco_group).where(taxonomy_concepts.c.code == "occ.welder"))
        assert isco == "7213"
        assert relations_of(conn, "occ.welder") == {"skill.tig": "optional", "skill.safety": "essential"}


def test_an_import_only_replaces_the_relations_of_its_own_occupations(
    engine: Engine, make_folder: MakeFolder
) -> None:
    plumber = {"conceptUri": "occ.plumber", "iscoGroup": "7126", "preferredLabel": "plumber"}
    welders = make_folder(
        {
            "occupations_en.csv": [WELDER],
            "skills_en.csv": [TIG, SAFETY],
            "occupationSkillRelations.csv": [rel("occ.welder", "skill.tig")],
        },
        name="welders",
    )
    plumbers = make_folder(
        {
            "occupations_en.csv": [plumber],
            "occupationSkillRelations.csv": [rel("occ.plumber", "skill.safety"), rel("occ.welder", "skill.safety")],
        },
        name="plumbers",
    )
    with engine.begin() as conn:
        import_esco(conn, welders)
        report = import_esco(conn, plumbers)

        # Skills already stored are known; the welder is not among this import's occupations.
        assert (report.relations, report.skipped_relations) == (1, 1)
        assert relations_of(conn, "occ.plumber") == {"skill.safety": "essential"}
        assert relations_of(conn, "occ.welder") == {"skill.tig": "essential"}


def test_a_folder_without_a_relations_file_leaves_relations_alone(engine: Engine, make_folder: MakeFolder) -> None:
    with_relations = make_folder(
        {
            "occupations_en.csv": [WELDER],
            "skills_en.csv": [TIG],
            "occupationSkillRelations.csv": [rel("occ.welder", "skill.tig")],
        },
        name="en",
    )
    french_only = make_folder({"occupations_fr.csv": [SOUDEUR]}, name="fr")
    with engine.begin() as conn:
        import_esco(conn, with_relations)
        report = import_esco(conn, french_only)

        assert report == ImportReport(occupations=1, skills=0, relations=0, languages=("fr",), skipped_relations=0)
        assert relations_of(conn, "occ.welder") == {"skill.tig": "essential"}
        assert set(labels(conn, "occ.welder")) == {"en", "fr"}


def test_a_concept_without_a_label_in_one_language_keeps_its_other_labels(
    engine: Engine, make_folder: MakeFolder
) -> None:
    folder = make_folder({"occupations_en.csv": [WELDER], "occupations_fr.csv": [{**SOUDEUR, "preferredLabel": ""}]})
    with engine.begin() as conn:
        import_esco(conn, folder)
        assert search(conn, "occupation", None) == [Concept("occ.welder", None, "welder")]


def test_a_folder_without_an_occupations_file_is_refused(engine: Engine, make_folder: MakeFolder) -> None:
    folder = make_folder({"skills_en.csv": [TIG]})
    with engine.begin() as conn:
        with pytest.raises(TaxonomyImportError, match=r"no occupations_<lang>\.csv file"):
            import_esco(conn, folder)


def test_a_missing_folder_is_refused(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        with pytest.raises(TaxonomyImportError, match="is not a folder"):
            import_esco(conn, tmp_path / "nowhere")


def test_several_missing_columns_are_all_named(engine: Engine, make_folder: MakeFolder) -> None:
    folder = make_folder({"occupations_en.csv": [WELDER]}, headers={"occupations_en.csv": ["conceptUri", "altLabels"]})
    with engine.begin() as conn:
        with pytest.raises(TaxonomyImportError) as raised:
            import_esco(conn, folder)
    assert str(raised.value) == "occupations_en.csv: missing columns 'preferredLabel', 'iscoGroup'"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"occupations_en.csv": [WELDER], "occupationSkillRelations.csv": [rel("occ.welder", "skill.tig", "core")]},
            "occupationSkillRelations.csv, line 2: relationType 'core' is neither 'essential' nor 'optional'",
        ),
        (
            {"occupations_en.csv": [WELDER, {**WELDER, "conceptUri": " "}]},
            "occupations_en.csv, line 4: empty conceptUri",
        ),
        (
            {"occupations_en.csv": [{**WELDER, "conceptUri": "occ." + "x" * 252}]},
            "occupations_en.csv, line 2: conceptUri longer than 255 characters",
        ),
        (
            {"occupations_en.csv": [{**WELDER, "iscoGroup": "7212.1.2.3.4"}]},
            "occupations_en.csv, line 2: iscoGroup longer than 10 characters",
        ),
        (
            {"occupations_en.csv": [WELDER], "skills_en.csv": [{**TIG, "conceptUri": "occ.welder"}]},
            "skills_en.csv, line 2: occ.welder is listed both as an occupation and as a skill",
        ),
    ],
)
def test_bad_rows_are_refused_with_their_file_and_line(
    engine: Engine, make_folder: MakeFolder, files: dict[str, list[dict[str, str]]], message: str
) -> None:
    folder = make_folder(files)
    with engine.begin() as conn:
        with pytest.raises(TaxonomyImportError) as raised:
            import_esco(conn, folder)
    assert str(raised.value) == message


def test_a_file_that_is_not_utf8_is_refused(engine: Engine, make_folder: MakeFolder) -> None:
    folder = make_folder({"occupations_en.csv": [WELDER]})
    latin1 = "conceptUri,iscoGroup,preferredLabel,altLabels\nocc.x,1,soudeur é\n".encode("latin-1")
    (folder / "occupations_en.csv").write_bytes(latin1)
    with engine.begin() as conn:
        with pytest.raises(TaxonomyImportError, match=r"^occupations_en\.csv, .*not UTF-8"):
            import_esco(conn, folder)


def test_a_code_stored_with_another_kind_is_refused_and_changes_nothing(
    engine: Engine, make_folder: MakeFolder, snapshot: Snapshot
) -> None:
    first = make_folder({"occupations_en.csv": [WELDER], "skills_en.csv": [TIG]}, name="first")
    # A new occupation, a renamed skill, and a skill that is already stored as an occupation.
    second = make_folder(
        {
            "occupations_en.csv": [{"conceptUri": "occ.plumber", "iscoGroup": "7126", "preferredLabel": "plumber"}],
            "skills_en.csv": [{**TIG, "preferredLabel": "renamed"}, {**CUT, "conceptUri": "occ.welder"}],
        },
        name="second",
    )
    with engine.begin() as conn:
        import_esco(conn, first)
        before = snapshot(conn)

    with pytest.raises(TaxonomyImportError) as raised, engine.begin() as conn:
        import_esco(conn, second)

    assert str(raised.value) == "occ.welder is stored as an occupation, but the files list it as a skill"
    with engine.connect() as conn:
        assert snapshot(conn) == before


def test_a_scheme_longer_than_the_column_is_refused(engine: Engine, make_folder: MakeFolder) -> None:
    folder = make_folder({"occupations_en.csv": [WELDER]})
    with engine.begin() as conn:
        with pytest.raises(TaxonomyImportError, match="scheme"):
            import_esco(conn, folder, scheme="x" * 21)
