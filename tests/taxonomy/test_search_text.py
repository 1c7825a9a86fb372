"""The normalised text that labels are stored as and queries are matched with."""

from __future__ import annotations

import pytest

from core.taxonomy.text import normalise, search_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Électricien/Électricienne", "electricien/electricienne"),
        ("FAÏENCIÈRE", "faienciere"),
        ("chef d’équipe", "chef d'equipe"),  # typographic apostrophe
        ("MANŒUVRE", "manoeuvre"),
        ("aide-soignant", "aide soignant"),
        ("aide\u2011soignant", "aide soignant"),  # non-breaking hyphen
        ("Straße", "strasse"),
        ("  chauffeur \t poids\u00a0lourd ", "chauffeur poids lourd"),
        ("ﬁnance", "finance"),  # compatibility ligature
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_search_text_puts_one_distinct_label_per_line_preferred_first() -> None:
    assert search_text("Carreleur/Carreleuse", ["carreleuse", "Faïencier", "", "faiencier", "CARRELEUSE"]) == (
        "carreleur/carreleuse\ncarreleuse\nfaiencier"
    )
