"""Marshmallow fields every schema of the API uses for incoming text and numbers."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate


class Text(fields.String):
    """A string with no NUL character and no lone surrogate.

    NOTE: neither can be stored faithfully (PostgreSQL refuses NUL in text; a lone surrogate has
    no UTF-8 form), so they are refused at the door rather than failing half-way through a write.
    """

    default_error_messages = {"unsafe": "Caractères non permis / characters not allowed."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            raise self.make_error("unsafe")
        return text


class Pattern(validate.Regexp):
    """A pattern the whole value must match, written ``^...$`` in the subset of regular expressions
    that Python and ECMA-262 read alike: the OpenAPI document publishes it as is, and JavaScript
    validators understand it.

    NOTE: it is checked here with ``fullmatch`` of what is between the anchors, because Python's
    ``$`` also matches before a final newline: ``"4000\n"`` is not a postal code.
    """

    def __init__(self, pattern: str, error: str | None = None) -> None:
        if not (pattern.startswith("^") and pattern.endswith("$")):
            raise ValueError("a pattern is anchored: ^...$")
        super().__init__(pattern, error=error)
        self._whole = re.compile(pattern[1:-1])

    def matches(self, value: str) -> bool:
        return self._whole.fullmatch(value) is not None

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or not self.matches(value):
            raise ValidationError(self._format_error(value))
        return value


class Hex(fields.String):
    """Bytes, written as lower-case hexadecimal (hashes)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else bytes(value).hex()


def without_nulls(data: dict[str, Any], among: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``data`` without its null members (only those named in ``among``, when given): for schemas
    whose fields are absent, rather than null, when they do not apply."""
    return {key: value for key, value in data.items() if value is not None or (among is not None and key not in among)}


class Integer(fields.Integer):
    """An integer that refuses 25.7 rather than truncating it to 25."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)
