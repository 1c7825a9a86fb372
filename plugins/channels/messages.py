"""What the channel integrations' messages have in common: the seeker named by one exact
identifier, a time, bounded texts; and the answers (``recorded``, ``no_match``, a refusal naming
the fields at fault, never repeating a value)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plugins.api import ChannelReply

ACCEPTED = 202
RECORDED = ChannelReply(ACCEPTED, {"status": "recorded"})
NO_MATCH = ChannelReply(ACCEPTED, {"status": "no_match"})
# JSON Schemas of the OpenAPI document: the accepted answer, and what every message names.
ANSWER_SCHEMA = {"type": "object", "required": ["status"], "additionalProperties": False,
                 "properties": {"status": {"type": "string", "enum": ["recorded", "no_match"]}}}
SEEKER_PROPERTIES = {
    "email": {"type": "string", "minLength": 1, "maxLength": 254, "description": "the seeker's e-mail address"},
    "national_id": {"type": "string", "minLength": 1, "maxLength": 254,
                    "description": "the seeker's national register number, with or without its dots and dash"},
    "occurred_at": {"type": "string", "format": "date-time", "description": "ISO 8601, with an offset"},
}


def message_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A channel's message: the seeker by ``email`` or ``national_id`` (exactly one), and ``properties``."""
    return {"type": "object", "additionalProperties": False, "required": ["occurred_at", *required],
            "properties": {**SEEKER_PROPERTIES, **properties},
            "oneOf": [{"required": ["email"]}, {"required": ["national_id"]}]}


class Refused(ValueError):
    """A message that is not of the channel's format: ``errors`` names each field at fault."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid message")
        self.errors = errors

    def reply(self) -> ChannelReply:
        return ChannelReply(422, {
            "detail": "Le message n'a pas le format de ce canal; rien n'a été enregistré / "
                      "the message is not in this channel's format; nothing was recorded.",
            "errors": self.errors,
        })


@dataclass(frozen=True)
class Seeker:
    """The seeker a message is about, by exactly one exact identifier."""

    email: str | None
    national_id: str | None


class Reader:
    """Reads the fields of one message, gathering every error before refusing it."""

    def __init__(self, body: Mapping[str, Any], fields: set[str]) -> None:
        self.body = body
        self.errors: dict[str, str] = {}
        unknown = sorted(k for k in body if k not in fields)
        for name in unknown[:10]:
            self.errors[name if name.isidentifier() and len(name) <= 64 else "(unknown)"] = \
                "Champ inconnu / unknown field."

    def seeker(self) -> Seeker:
        email, national_id = self.body.get("email"), self.body.get("national_id")
        if (email is None) == (national_id is None):
            self.errors["email"] = ("Nommez le chercheur par email ou national_id, un seul / "
                                    "name the seeker by email or national_id, one only.")
            return Seeker(None, None)
        for name, value in (("email", email), ("national_id", national_id)):
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 254):
                self.errors[name] = "Une chaîne de 1 à 254 caractères / a string of 1 to 254 characters."
        return Seeker(email, national_id)

    def time(self, name: str) -> datetime | None:
        value = self.body.get(name)
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            self.errors[name] = "Une date et heure ISO 8601 avec fuseau / an ISO 8601 date and time with an offset."
            return None
        return parsed

    def text(self, name: str, maximum: int, required: bool = True) -> str | None:
        value = self.body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > maximum:
            self.errors[name] = f"Un texte de 1 à {maximum} caractères / a text of 1 to {maximum} characters."
            return None
        return value.strip()

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.body.get(name)
        if value is None:
            return None
        if value not in choices:
            self.errors[name] = f"Une valeur parmi {', '.join(choices)} / one of {', '.join(choices)}."
            return None
        return str(value)

    def whole(self, name: str, maximum: int) -> int | None:
        value = self.body.get(name)
        if value is None:
            return None
        if type(value) is not int or not 0 <= value <= maximum:
            self.errors[name] = f"Un entier de 0 à {maximum} / a whole number from 0 to {maximum}."
            return None
        return value

    def check(self) -> None:
        if self.errors:
            raise Refused(self.errors)
