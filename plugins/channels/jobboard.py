"""The job-board integration: a seeker's response to a job offer an employer posted becomes a
contact of channel ``job_offer_response`` in their dossier and an application in their activities
(their evidence of job search).

``POST /api/v1/channels/jobboard/responses``, by a client with the scope ``channel:jobboard``::

    {"email": "...", "occurred_at": "2026-12-01T10:02:00+01:00", "employer": "Boulangerie Dupont",
     "offer_title": "Boulanger (H/F)", "offer_reference": "JB-2026-0042"}

The seeker is named by ``email`` or ``national_id`` (one of them); ``offer_reference`` is
optional. The answer is 202 ``{"status": "recorded"}``, or ``{"status": "no_match"}``. The contact
and the application are written together, or neither.
"""

from __future__ import annotations

from typing import Any

from plugins.api import ChannelEndpoint, ChannelReply, InboundMessage, Manifest, hookimpl
from plugins.channels.messages import ACCEPTED, ANSWER_SCHEMA, NO_MATCH, RECORDED, Reader, Refused, message_schema

NAME = "jobboard"
VERSION = "1.0"
FIELDS = {"email", "national_id", "occurred_at", "employer", "offer_title", "offer_reference"}
RESPONSE_SCHEMA = message_schema({
    "employer": {"type": "string", "minLength": 1, "maxLength": 300, "description": "the employer that posted the offer"},
    "offer_title": {"type": "string", "minLength": 1, "maxLength": 300},
    "offer_reference": {"type": "string", "minLength": 1, "maxLength": 100, "description": "the job board's reference"},
}, ["employer", "offer_title"])


def receive_response(message: InboundMessage, context: Any) -> ChannelReply:
    read = Reader(message.body, FIELDS)
    seeker = read.seeker()
    occurred_at = read.time("occurred_at")
    employer = read.text("employer", 300)
    title = read.text("offer_title", 300)
    reference = read.text("offer_reference", 100, required=False)
    try:
        read.check()
    except Refused as refused:
        return refused.reply()
    assert occurred_at is not None and employer is not None and title is not None
    offer = f"« {title} », {employer}" + (f" ({reference})" if reference else "")
    who = {"email": seeker.email, "national_id": seeker.national_id}
    ref = context.record_contact(**who, channel="job_offer_response", occurred_at=occurred_at,
                                 summary=f"Réponse à l'offre {offer} / response to the job offer {offer}")
    if ref is None:
        return NO_MATCH
    context.record_activity(**who, kind="application", occurred_at=occurred_at, organisation=employer, channel="job_board",
                            description=f"Candidature à l'offre {offer} (via le site d'offres) / "
                                        f"application to the job offer {offer} (through the job board)")
    return RECORDED


class JobBoardPlugin:
    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest(
            name=NAME, version=VERSION, purposes=("dossier.public_task",),
            description="Site d'offres d'emploi : les réponses aux offres deviennent des contacts et des candidatures / "
                        "job board: responses to offers become contacts and applications",
        )

    @hookimpl
    def dossier_channel_endpoints(self) -> list[ChannelEndpoint]:
        return [ChannelEndpoint("responses", receive_response, "Une réponse à une offre d'emploi / a response to a job offer",
                                status=ACCEPTED, body_schema=RESPONSE_SCHEMA, reply_schema=ANSWER_SCHEMA)]


def create() -> JobBoardPlugin:
    return JobBoardPlugin()
