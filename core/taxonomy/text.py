"""Search text: what a query is matched against, built the same way for labels and queries."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

_FOLD = str.maketrans(
    {
        # ESCO's French labels use the typographic apostrophe; people type the ASCII one.
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        # Ligatures that NFKD leaves alone: "manœuvre" must match a typed "manoeuvre".
        "œ": "oe",
        "æ": "ae",
        # "aide-soignant" and "aide soignant" are the same search.
        "-": " ",
        "\u2010": " ",
    }
)


def normalise(text: str) -> str:
    """Casefolded, accents removed, apostrophes, ligatures and hyphens unified, spaces collapsed."""
    # casefold() before NFKD: casefolding can itself produce combining marks ("İ" -> "i̇"), and
    # NFKD turns the non-breaking hyphen into the plain one that _FOLD then maps.
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.translate(_FOLD).split())


def search_text(preferred: str, alternatives: Iterable[str] = ()) -> str:
    """The normalised preferred label, then each distinct alternative, one per line.

    One label per line: a query (which never holds a newline) cannot match across two labels.
    """
    lines: list[str] = []
    for label in (preferred, *alternatives):
        line = normalise(label)
        if line and line not in lines:
            lines.append(line)
    return "\n".join(lines)
