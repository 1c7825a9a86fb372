"""``dossier_taxonomy_sources``: a plugin's taxonomy, imported by `dossier taxonomy import --source`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from core.models import taxonomy_concepts
from core.identity.roles import Role
from plugins.api import TaxonomyConcept, TaxonomyRelation, TaxonomySource
from tests.plugins.conftest import make_plugin


def concepts() -> Iterator[TaxonomyConcept]:
    yield TaxonomyConcept("rome.h2909", "occupation", {"fr": "Montage-assemblage mécanique", "en": "Mechanical assembly"})
    yield TaxonomyConcept("rome.skill.torque", "skill", {"fr": "Serrage au couple", "en": "Torque tightening"})


def relations() -> Iterator[TaxonomyRelation]:
    yield TaxonomyRelation("rome.h2909", "rome.skill.torque", essential=True)


def broken() -> Iterator[TaxonomyConcept]:
    yield TaxonomyConcept("rome.ok", "occupation", {"fr": "Bon"})
    yield TaxonomyConcept("rome.bad", "hobby", {"fr": "Mauvais"})


SOURCES = [TaxonomySource("rome", "ROME (France Travail), extract", concepts, relations),
           TaxonomySource("broken", "a source that yields a bad concept", broken, lambda: iter(()))]


@pytest.fixture
def plugins() -> list[Any]:
    return [make_plugin("rome_codes", purposes=(), categories=(), purge=False,
                        extra={"dossier_taxonomy_sources": lambda self: SOURCES})]


@pytest.fixture
def run(app):  # type: ignore[no-untyped-def]
    from core.cli import cli

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))

    return invoke


def test_the_sources_are_listed(run) -> None:
    result = run("taxonomy", "sources")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["name"] for line in result.output.splitlines()] == ["broken", "rome"]


def test_a_source_is_imported_and_profiles_can_use_its_codes(run, client, make_person) -> None:
    result = run("taxonomy", "import", "--source", "rome")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"occupations": 1, "skills": 1, "relations": 1, "languages": ["en", "fr"], "skipped_relations": 0}
    seeker = make_person(Role.SEEKER)
    found = client.get("/api/v1/taxonomy/occupations?q=assemblage", headers=seeker.auth).get_json()
    assert [o["code"] for o in found] == ["rome.h2909"]
    assert client.patch(f"/api/v1/seekers/{seeker.subject_id}/profile",
                        json={"occupations": ["rome.h2909"], "skills": ["rome.skill.torque"]},
                        headers=seeker.auth).status_code == 200
    # Again: nothing changes.
    assert run("taxonomy", "import", "--source", "rome").exit_code == 0


def test_a_bad_source_changes_nothing_and_says_why(run, rt) -> None:
    with rt.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(taxonomy_concepts)).scalar_one()
    result = run("taxonomy", "import", "--source", "broken")
    assert result.exit_code == 1
    assert "broken: concept 2: kind must be occupation or skill" in result.output
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(taxonomy_concepts)).scalar_one() == before


def test_an_unknown_source_or_both_arguments_are_refused(run, tmp_path) -> None:
    assert "no plugin provides a taxonomy named 'esco'" in run("taxonomy", "import", "--source", "esco").output
    assert run("taxonomy", "import", str(tmp_path), "--source", "rome").exit_code == 2
    assert run("taxonomy", "import").exit_code == 2
