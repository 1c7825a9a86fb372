"""search, unknown_codes and skills_of, on the shipped default taxonomy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

from core.taxonomy.esco import import_esco
from core.taxonomy.service import Concept, SkillOfOccupation, load_default, search, skills_of, unknown_codes
from core.taxonomy.text import normalise


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection on a database holding the default taxonomy, rolled back at the end."""
    with engine.connect() as connection, connection.begin() as transaction:
        load_default(connection)
        yield connection
        transaction.rollback()


def codes(rows: list[Any]) -> list[str]:
    return [row.code for row in rows]


def count_statements(conn: Connection) -> list[str]:
    statements: list[str] = []
    event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


@pytest.mark.parametrize(
    ("kind", "q", "code"),
    [
        ("occupation", "SOUDEUR", "occ.welder"),  # case
        ("occupation", "electricien", "occ.building-electrician"),  # accents
        ("occupation", "Électricienne", "occ.industrial-electrician"),
        ("occupation", "camionneur", "occ.hgv-driver"),  # French alternative label
        ("occupation", "HGV driver", "occ.hgv-driver"),  # English alternative label
        ("occupation", "réceptionniste d'hôtel", "occ.hotel-receptionist"),  # ASCII for ’
        ("occupation", "aide soignante", "occ.care-assistant"),  # hyphen typed as a space
        ("occupation", "manoeuvre", "occ.construction-labourer"),  # œ typed as oe
        ("occupation", "  chauffeur   poids ", "occ.hgv-driver"),  # spaces
        ("skill", "clark", "skill.forklift-operation"),
        ("skill", "permis c", "skill.hgv-driving"),
    ],
)
def test_search_matches_labels_whatever_the_case_accents_and_language(
    conn: Connection, kind: str, q: str, code: str
) -> None:
    assert code in codes(search(conn, kind, q))


def test_search_returns_codes_and_both_labels(conn: Connection) -> None:
    assert search(conn, "skill", "forklift") == [
        Concept("skill.forklift-operation", "conduire un chariot élévateur", "operate a forklift")
    ]


def test_search_only_returns_concepts_of_the_kind_asked(conn: Connection) -> None:
    assert all(code.startswith("skill.") for code in codes(search(conn, "skill", "soud")))
    assert all(code.startswith("occ.") for code in codes(search(conn, "occupation", "soud")))


@pytest.mark.parametrize("q", ["%", "_", "\\", "soud%r", "soudeu_"])
def test_like_wildcards_in_the_query_are_matched_literally(conn: Connection, q: str) -> None:
    assert search(conn, "occupation", q) == []


@pytest.mark.parametrize("q", [None, "", "   "])
def test_without_a_query_search_lists_the_kind_by_french_label_then_code(conn: Connection, q: str | None) -> None:
    everything = search(conn, "occupation", q, limit=1000)

    assert len(everything) == len({row.code for row in everything}) >= 40
    assert everything == sorted(everything, key=lambda row: (normalise(row.label_fr), row.code))
    assert search(conn, "occupation", q, limit=5) == everything[:5]


def test_search_applies_the_limit_to_matches(conn: Connection) -> None:
    matches = search(conn, "skill", "e", limit=1000)
    assert len(matches) > 3
    assert search(conn, "skill", "e", limit=3) == matches[:3]


def test_concepts_without_a_french_label_come_last_with_none_for_it(
    conn: Connection, make_folder: Callable[..., Path]
) -> None:
    aaa = {"conceptUri": "occ.aaa", "iscoGroup": "9999", "preferredLabel": "aaa"}
    folder = make_folder({"occupations_en.csv": [aaa]})
    import_esco(conn, folder, scheme="test")

    listed = search(conn, "occupation", None, limit=1000)
    assert listed[-1] == Concept("occ.aaa", None, "aaa")
    assert search(conn, "occupation", "AAA") == [listed[-1]]


@pytest.mark.parametrize(("kind", "limit"), [("profession", 50), ("occupation", 0)])
def test_search_refuses_an_unknown_kind_or_an_empty_limit(conn: Connection, kind: str, limit: int) -> None:
    with pytest.raises(ValueError):
        search(conn, kind, None, limit=limit)


def test_unknown_codes_keeps_input_order_without_duplicates_in_one_query(conn: Connection) -> None:
    statements = count_statements(conn)
    unknown = unknown_codes(
        conn, "occupation", iter(["occ.zzz", "occ.welder", "skill.tig-welding", "occ.zzz", "occ.aaa", "occ.plumber"])
    )
    assert unknown == ["occ.zzz", "skill.tig-welding", "occ.aaa"]
    assert len(statements) == 1


def test_unknown_codes_of_nothing_is_nothing(conn: Connection) -> None:
    statements = count_statements(conn)
    assert unknown_codes(conn, "skill", []) == []
    assert statements == []


def test_unknown_codes_refuses_an_unknown_kind(conn: Connection) -> None:
    with pytest.raises(ValueError):
        unknown_codes(conn, "skills", ["skill.tig-welding"])


def test_skills_of_lists_essential_skills_first_with_labels(conn: Connection) -> None:
    skills = skills_of(conn, "occ.welder")

    assert SkillOfOccupation("skill.tig-welding", "essential", "souder à l’arc sous gaz inerte (TIG)", "weld with TIG") in skills
    relations = [row.relation for row in skills]
    assert relations == sorted(relations, key=lambda relation: relation != "essential")
    assert 4 <= relations.count("essential") < len(relations)
    essential = [row for row in skills if row.relation == "essential"]
    assert essential == sorted(essential, key=lambda row: (normalise(row.label_fr), row.code))


@pytest.mark.parametrize("code", ["occ.astronaut", "skill.tig-welding"])
def test_skills_of_something_that_is_not_an_occupation_is_empty(conn: Connection, code: str) -> None:
    assert skills_of(conn, code) == []
