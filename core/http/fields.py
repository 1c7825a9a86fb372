"""Marshmallow fields every schema of the API uses for incoming text and numbers."""

from __future__ import annotations

from typing import Any

from marshmallow import fields


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


class Integer(fields.Integer):
    """An integer that refuses 25.7 rather than truncating it to 25."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)
