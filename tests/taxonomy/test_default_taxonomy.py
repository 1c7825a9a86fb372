"""The taxonomy shipped in core/taxonomy/data: it loads, and it is complete and consistent."""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from core.models import taxonomy_concepts, taxonomy_labels, taxonomy_relations
from core.taxonomy.service import Concept, load_default, search, unknown_codes

DATA = resources.files("core.taxonomy") / "data"
CODE = re.compile(r"(occ|skill)\.[a-z0-9-]+")


def read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_loads_with_the_dossier_scheme_in_french_and_english(engine: Engine) -> None:
    with engine.begin() as conn:
        report = load_default(conn)
        schemes = set(conn.scalars(select(taxonomy_concepts.c.scheme).distinct()))

    assert report.languages == ("en", "fr")
    assert report.skipped_relations == 0
    assert 35 <= report.occupations <= 55
    assert 150 <= report.skills <= 220
    assert schemes == {"dossier"}


def test_loading_twice_changes_nothing(engine: Engine, snapshot: Callable[[Connection], Any]) -> None:
    with engine.begin() as conn:
        first = load_default(conn)
        before = snapshot(conn)
        assert load_default(conn) == first
        assert snapshot(conn) == before


def test_every_occupation_has_4_to_10_essential_and_some_optional_skills(engine: Engine) -> None:
    r = taxonomy_relations
    with engine.begin() as conn:
        load_default(conn)
        occupations = set(
            conn.scalars(select(taxonomy_concepts.c.id).where(taxonomy_concepts.c.kind == "occupation"))
        )
        counts = {
            (occupation, relation): n
            for occupation, relation, n in conn.execute(
                select(r.c.occupation_id, r.c.relation, func.count()).group_by(r.c.occupation_id, r.c.relation)
            )
        }
    for occupation in occupations:
        assert 4 <= counts.get((occupation, "essential"), 0) <= 10
        assert counts.get((occupation, "optional"), 0) >= 1


def test_every_relation_links_an_occupation_to_a_skill(engine: Engine) -> None:
    occupation = taxonomy_concepts.alias("occupation")
    skill = taxonomy_concepts.alias("skill")
    r = taxonomy_relations
    with engine.begin() as conn:
        load_default(conn)
        kinds = Counter(
            conn.execute(
                select(occupation.c.kind, skill.c.kind)
                .select_from(r)
                .join(occupation, occupation.c.id == r.c.occupation_id)
                .join(skill, skill.c.id == r.c.skill_id)
            ).all()
        )
        used_skills = conn.scalar(select(func.count(r.c.skill_id.distinct())))
        skills = conn.scalar(select(func.count()).where(taxonomy_concepts.c.kind == "skill"))
    assert list(kinds) == [("occupation", "skill")]
    # A skill no occupation needs would be dead weight in the shipped data.
    assert used_skills == skills


def test_the_relations_file_names_only_concepts_of_the_data_files() -> None:
    occupations = {row["conceptUri"] for row in read("occupations_en.csv")}
    skills = {row["conceptUri"] for row in read("skills_en.csv")}
    for row in read("occupationSkillRelations.csv"):
        assert row["occupationUri"] in occupations
        assert row["skillUri"] in skills
        assert row["relationType"] in {"essential", "optional"}


def test_every_concept_has_a_french_and_an_english_label(engine: Engine) -> None:
    with engine.begin() as conn:
        load_default(conn)
        concepts = conn.scalar(select(func.count()).select_from(taxonomy_concepts))
        per_lang = dict(
            conn.execute(select(taxonomy_labels.c.lang, func.count()).group_by(taxonomy_labels.c.lang)).all()
        )
        empty = conn.scalar(select(func.count()).where(func.trim(taxonomy_labels.c.label) == ""))
    assert per_lang == {"fr": concepts, "en": concepts}
    assert empty == 0


@pytest.mark.parametrize("kind", ["occupations", "skills"])
def test_codes_are_ours_unique_and_the_same_in_both_languages(kind: str) -> None:
    codes = {lang: [row["conceptUri"] for row in read(f"{kind}_{lang}.csv")] for lang in ("fr", "en")}
    assert codes["fr"] == codes["en"]
    assert len(set(codes["fr"])) == len(codes["fr"])
    prefix = "occ." if kind == "occupations" else "skill."
    for code in codes["fr"]:
        assert CODE.fullmatch(code) and code.startswith(prefix), code


def test_occupations_have_an_isco_08_unit_group_and_no_esco_code() -> None:
    for row in read("occupations_en.csv"):
        assert re.fullmatch(r"[1-9]\d{3}", row["iscoGroup"]), row["conceptUri"]
        assert row["code"] == ""


def test_search_finds_the_welder_by_its_french_name(engine: Engine) -> None:
    with engine.begin() as conn:
        load_default(conn)
        found = search(conn, "occupation", "soudeur")
    assert Concept("occ.welder", "soudeur/soudeuse", "welder") in found


def test_unknown_codes_names_the_codes_that_are_not_in_the_taxonomy(engine: Engine) -> None:
    with engine.begin() as conn:
        load_default(conn)
        assert unknown_codes(conn, "occupation", ["occ.welder", "occ.astronaut", "occ.plumber"]) == ["occ.astronaut"]
        assert unknown_codes(conn, "skill", ["skill.forklift-operation", "skill.juggling"]) == ["skill.juggling"]
