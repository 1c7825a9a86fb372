"""Fixtures of the taxonomy tests: the ESCO sample, small ESCO-layout folders, table snapshots."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from core.models import taxonomy_concepts, taxonomy_labels, taxonomy_relations

# The real ESCO v1.1.1 sample lives beside the repository, never inside it: it is not ours to ship.
ESCO_SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "esco-sample"

# The official ESCO v1.1.1 headers.
HEADERS = {
    "occupations": (
        "conceptType,conceptUri,iscoGroup,preferredLabel,altLabels,hiddenLabels,status,modifiedDate,"
        "regulatedProfessionNote,scopeNote,definition,inScheme,description,code"
    ).split(","),
    "skills": (
        "conceptType,conceptUri,skillType,reuseLevel,preferredLabel,altLabels,hiddenLabels,status,"
        "modifiedDate,scopeNote,definition,inScheme,description"
    ).split(","),
    "occupationSkillRelations": ["occupationUri", "relationType", "skillType", "skillUri"],
}

Files = Mapping[str, Iterable[Mapping[str, str]]]
MakeFolder = Callable[..., Path]
Snapshot = Callable[[Connection], dict[str, list[tuple[object, ...]]]]


@pytest.fixture
def esco_sample() -> Path:
    """The ESCO sample folder; tests using it are skipped when it is absent."""
    if not (ESCO_SAMPLE / "occupations_en.csv").is_file():
        pytest.skip(f"ESCO sample not found at {ESCO_SAMPLE} (it is kept outside the repository)")
    return ESCO_SAMPLE


@pytest.fixture
def make_folder(tmp_path: Path) -> MakeFolder:
    """``make_folder({file name: rows}, name="esco", headers={}, newline="\\n", bom=False)``.

    Writes ESCO-layout CSV files into a new folder and returns it. A file's header is the official
    one for its name unless ``headers`` gives another; columns missing from a row are written
    empty, as ESCO does, and columns absent from the header are dropped.
    """

    def make(
        files: Files,
        name: str = "esco",
        headers: Mapping[str, list[str]] | None = None,
        newline: str = "\n",
        bom: bool = False,
    ) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for file_name, rows in files.items():
            columns = (headers or {}).get(file_name) or HEADERS[file_name.removesuffix(".csv").split("_")[0]]
            with (folder / file_name).open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, columns, restval="", extrasaction="ignore", lineterminator=newline)
                writer.writeheader()
                writer.writerows(rows)
        return folder

    return make


@pytest.fixture
def snapshot() -> Snapshot:
    """Every row of the three taxonomy tables in key order: equal snapshots mean unchanged data."""

    def take(conn: Connection) -> dict[str, list[tuple[object, ...]]]:
        return {
            table.name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in (taxonomy_concepts, taxonomy_labels, taxonomy_relations)
        }

    return take
