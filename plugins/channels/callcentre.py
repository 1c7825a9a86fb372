"""The call-centre integration: each call with a seeker, as the call-centre system reports it,
becomes a contact of channel ``call_centre`` in the seeker's dossier, with its summary.

``POST /api/v1/channels/callcentre/calls``, by a client with the scope ``channel:callcentre``::

    {"email": "...", "occurred_at": "2026-12-01T10:02:00+01:00", "summary": "...",
     "direction": "inbound", "duration_seconds": 380}

The seeker is named by ``email`` or ``national_id`` (one of them); ``direction`` (``inbound`` or
``outbound``) and ``duration_seconds`` are optional and prefix the summary. The answer is 202
``{"status": "recorded"}``, or ``{"status": "no_match"}`` when no one seeker has that identifier.
"""

from __future__ import annotations

from typing import Any

from plugins.api import ChannelEndpoint, ChannelReply, InboundMessage, Manifest, hookimpl
from plugins.channels.messages import ACCEPTED, ANSWER_SCHEMA, NO_MATCH, RECORDED, Reader, Refused, message_schema

NAME = "callcentre"
VERSION = "1.0"
FIELDS = {"email", "national_id", "occurred_at", "summary", "direction", "duration_seconds", "call_id"}
MAX_SUMMARY = 3000
_DIRECTION = {"inbound": ("appel entrant", "inbound call"), "outbound": ("appel sortant", "outbound call")}
CALL_SCHEMA = message_schema({
    "summary": {"type": "string", "minLength": 1, "maxLength": MAX_SUMMARY, "description": "what the call was about"},
    "direction": {"type": "string", "enum": sorted(_DIRECTION)},
    "duration_seconds": {"type": "integer", "minimum": 0, "maximum": 24 * 3600},
    "call_id": {"type": "string", "minLength": 1, "maxLength": 200, "description": "the call centre's reference, not kept"},
}, ["summary"])


def receive_call(message: InboundMessage, context: Any) -> ChannelReply:
    read = Reader(message.body, FIELDS)
    seeker = read.seeker()
    occurred_at = read.time("occurred_at")
    summary = read.text("summary", MAX_SUMMARY)
    direction = read.choice("direction", tuple(_DIRECTION))
    duration = read.whole("duration_seconds", 24 * 3600)
    read.text("call_id", 200, required=False)  # the call centre's own reference: checked, not kept
    try:
        read.check()
    except Refused as refused:
        return refused.reply()
    assert occurred_at is not None and summary is not None
    ref = context.record_contact(email=seeker.email, national_id=seeker.national_id, channel="call_centre",
                                 occurred_at=occurred_at, summary=_summary(summary, direction, duration))
    return RECORDED if ref else NO_MATCH


def _summary(summary: str, direction: str | None, duration: int | None) -> str:
    """The contact's summary, with what the call was, in French then English."""
    french, english = _DIRECTION.get(direction or "", ("appel", "call"))
    if duration is not None:
        minutes = max(1, round(duration / 60))
        french, english = f"{french}, {minutes} min", f"{english}, {minutes} min"
    return f"Centre d'appels ({french} / {english}) : {summary}"


class CallCentrePlugin:
    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest(
            name=NAME, version=VERSION, purposes=("dossier.public_task",),
            description="Centre d'appels : les appels deviennent des contacts du dossier / "
                        "call centre: calls become contacts in the dossier",
        )

    @hookimpl
    def dossier_channel_endpoints(self) -> list[ChannelEndpoint]:
        return [ChannelEndpoint("calls", receive_call, "Un appel du centre d'appels / a call-centre call", status=ACCEPTED,
                                body_schema=CALL_SCHEMA, reply_schema=ANSWER_SCHEMA)]


def create() -> CallCentrePlugin:
    return CallCentrePlugin()
