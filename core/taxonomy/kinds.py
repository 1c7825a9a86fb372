"""The closed vocabularies of the taxonomy tables (mirrored by CHECK constraints in the schema)."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    OCCUPATION = "occupation"
    SKILL = "skill"


class Relation(StrEnum):
    ESSENTIAL = "essential"
    OPTIONAL = "optional"
