"""The public plugin API: the one module a plugin imports from the service.

A plugin is a module (or any object) that declares a :class:`Manifest` through the
``dossier_manifest`` hook and implements some of the hooks of ``core.plugins.hookspecs`` with the
:data:`hookimpl` marker. The service never hands a plugin its dossier, database, keys or app: it
calls each plugin on its own, with a :class:`SubjectView` built for that plugin, that seeker and
one purpose, and a :class:`PluginContext` bound to that one call. Both stop working when the call
returns. Seekers appear under the plugin's own pseudonym, never their id.

NOTE: this module imports nothing of the service (an import contract checks it), so that what a
plugin can reach is exactly what is defined here. docs/plugins.md is its guide.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from types import MappingProxyType
from typing import Any, Protocol

import pluggy

PROJECT = "dossier"
hookimpl = pluggy.HookimplMarker(PROJECT)

# Plugin names, store names and event names: lower case, digits and underscores.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}\Z")


# -- the manifest -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredData:
    """Something a plugin keeps, as its manifest declares it; its store accepts only declared names.

    ``per_subject`` data is about one seeker: it is sealed under that seeker's key, read back only
    while the purpose it was derived under is live, and deleted by the service when that consent
    goes. Shared data (``per_subject=False``) must hold nothing about a seeker (an employer's alert
    inbox, a cursor); it is kept as plain JSON.
    """

    name: str
    description: str
    per_subject: bool = True


@dataclass(frozen=True)
class PluginSetting:
    """A setting the plugin reads, from the operator's ``PLUGINS`` setting (``[plugins.<name>]`` in
    the instance file): checked at start-up, read as ``context.settings[name]``.

    ``kind`` is ``str``, ``int``, ``float``, ``bool`` or ``tuple`` (a list of strings); ``default`` is
    used when the operator gives none. ``choices`` limits a ``str``; ``minimum`` and ``maximum`` a number.
    """

    name: str
    kind: type
    default: Any
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Manifest:
    """What a plugin is, why it processes data, what it reads, what it is told and what it keeps.

    - ``purposes``: the catalogue purposes it serves (``GET /api/v1/purposes``), or purposes it
      brings itself (``dossier_purposes``). Each call to the plugin is made under one of them.
    - ``categories``: the data categories it reads (``profile.skills``; a prefix such as
      ``profile`` stands for every category below it). Under a purpose it receives those of them
      that the purpose covers, and only while the purpose's consent (or legal basis) allows.
    - ``events``: the event and lifecycle hooks it implements, by hook name.
    - ``stores``: what it keeps (see :class:`StoredData`).
    - ``settings``: what the operator may configure (see :class:`PluginSetting`).
    - ``sends_alerts``: it asks the service to alert advisors (see :class:`Alert`).
    """

    name: str
    version: str
    purposes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    stores: tuple[StoredData, ...] = ()
    description: str = ""
    settings: tuple[PluginSetting, ...] = ()
    # Whether it sends alerts to advisors (``context.send_alert``): the register shows it.
    sends_alerts: bool = False


@dataclass(frozen=True)
class Notice:
    """One version of a purpose's notice, as the seeker reads it before consenting."""

    fr: str
    en: str
    version: int = 1
    # A material change: consents given under earlier versions must be given again.
    material: bool = False


@dataclass(frozen=True)
class PurposeDeclaration:
    """A purpose a plugin brings to the catalogue (returned by ``dossier_purposes``).

    Its name starts with the plugin's name and a dot (``alerts.weekly_digest``). A ``consent``
    purpose is one the seeker grants and withdraws like any other; ``public_task`` and
    ``legal_obligation`` ones rest on the law, and enabling the plugin is the controller's act.
    """

    name: str
    legal_basis: str
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    retention_days: int
    notices: tuple[Notice, ...]


# -- what a call receives -----------------------------------------------------------------------


class NotReleased(KeyError):
    """The category was not released to this plugin in this call (not declared, or not allowed)."""


class Revoked(RuntimeError):
    """A view or context was used after the call it was made for had ended."""


class NotHeld(LookupError):
    """The plugin holds nothing of that pseudonym under the call's purpose: never released to it,
    or purged since (the consent was withdrawn, the seeker erased)."""


class SubjectView(Mapping[str, Any]):
    """What one plugin may see of one seeker, for one purpose, during one call: category -> value.

    Values are read-only (tuples and read-only mappings). The shape of each category's value is
    listed in docs/plugins.md; records (activities, contacts) carry a ``ref`` that is stable for
    this plugin and the same as an event's ``record``.
    """

    __slots__ = ("_data", "_open", "categories", "pseudonym", "purpose", "validated")

    def __init__(self, pseudonym: str, purpose: str, data: Mapping[str, Any], validated: frozenset[str] = frozenset()) -> None:
        self.pseudonym = pseudonym
        self.purpose = purpose
        # Plain strings: nothing of the service's own types reaches a plugin.
        self._data: dict[str, Any] = {str(category): frozen(value) for category, value in data.items()}
        self.categories: frozenset[str] = frozenset(self._data)
        # The profile categories of the view whose every filled field an advisor validated (never
        # who, when or on what evidence): what a ranking may weigh more.
        self.validated: frozenset[str] = frozenset(str(c) for c in validated) & self.categories
        self._open = True

    def __getitem__(self, category: str) -> Any:
        if not self._open:
            raise Revoked("this view was for a call that has ended")
        try:
            return self._data[category]
        except KeyError:
            raise NotReleased(category) from None

    def __iter__(self) -> Iterator[str]:
        if not self._open:
            raise Revoked("this view was for a call that has ended")
        return iter(sorted(self._data))

    def __len__(self) -> int:
        return len(self._data) if self._open else 0

    def __repr__(self) -> str:
        # Never the values: a view printed in a log must not carry personal data.
        return f"SubjectView(pseudonym={self.pseudonym!r}, purpose={self.purpose!r}, categories={sorted(self.categories)})"

    def _revoke(self) -> None:
        """Called by the service when the call ends: the data goes with it."""
        self._open = False
        self._data = {}


def frozen(value: Any) -> Any:
    """A read-only copy of JSON-like data: lists become tuples, mappings read-only mappings."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class SubjectEvent:
    """Something that happened to a seeker's dossier. ``record`` is the ref of the record concerned
    (an activity or contact: the same ``ref`` as in the view), when there is one."""

    name: str
    occurred_at: datetime
    record: str | None = None


@dataclass(frozen=True)
class EmployerSearch:
    """An employer's search of published profiles: its criteria and how many candidates it found.

    It names the employer (an organisation) and carries nothing about any seeker.
    """

    search_id: str
    employer_id: str
    criteria: Mapping[str, Any]
    match_count: int
    occurred_at: datetime


@dataclass(frozen=True)
class ContactRequestDecision:
    """A seeker accepted or refused an employer's contact request."""

    request_id: str
    employer_id: str
    decision: str  # "accepted" or "refused"
    occurred_at: datetime


@dataclass(frozen=True)
class LanguageRequirement:
    """A language the employer needs, at a minimum level (CEFR A1 to C2, or ``native``)."""

    code: str
    min_level: str = "A1"


# The closed vocabularies of "Mon profil", as views and queries carry them.
# CEFR levels in order; ``native`` is above C2.
LANGUAGE_LEVELS: tuple[str, ...] = ("A1", "A2", "B1", "B2", "C1", "C2", "native")
# Belgian driving-licence categories.
LICENCES: tuple[str, ...] = ("AM", "A1", "A2", "A", "B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE", "G")
CONTRACT_TYPES: tuple[str, ...] = ("permanent", "fixed_term", "temporary_agency", "replacement", "student",
                                   "apprenticeship", "self_employed")
WORKING_TIME: tuple[str, ...] = ("full_time", "part_time")
# The criteria of an employer's search, as ``CandidateQuery.weights`` and ``CriterionMatch`` name them.
SEARCH_CRITERIA: tuple[str, ...] = ("occupation", "required_skills", "preferred_skills", "languages", "distance",
                                    "availability", "contract_types", "working_time", "licences", "experience", "education")


@dataclass(frozen=True)
class CandidateQuery:
    """An employer's search criteria, as the ranking hook receives them.

    The service checked every code and value, and adds what the taxonomy says of the occupation:
    ``related_occupations`` (code -> similarity in (0, 1), from the essential skills they share)
    and ``skill_relations`` (skill code -> ``essential`` or ``optional`` for that occupation), and
    ``labels`` (code -> ``{"fr": ..., "en": ...}`` for every occupation and skill it names).
    ``weights`` has one number per criterion the employer weighed (0 to 10); ``offset`` and
    ``limit`` give the page.
    """

    occupation: str | None
    required_skills: tuple[str, ...] = ()
    preferred_skills: tuple[str, ...] = ()
    languages: tuple[LanguageRequirement, ...] = ()
    postal_code: str | None = None
    radius_km: int | None = None
    available_by: str | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    limit: int = 20
    offset: int = 0
    contract_types: tuple[str, ...] = ()
    working_time: tuple[str, ...] = ()
    licences: tuple[str, ...] = ()
    min_experience_months: int | None = None
    min_education_level: int | None = None
    related_occupations: Mapping[str, float] = field(default_factory=dict)
    skill_relations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


# -- what a call returns ------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    """A plugin's confirmation that it holds nothing more of that seeker for that purpose.

    ``items`` is how many things it deleted, for the record (the audit entry names the count).
    """

    items: int = 0


@dataclass(frozen=True)
class CriterionMatch:
    """How one criterion of a search counted for one candidate.

    ``value`` is how well it matched (0 to 1, after the weight of validation), ``weight`` the
    employer's weight, ``points`` its part of the score (the scores' points add up to the score),
    ``validated`` whether the field it rests on was validated by an advisor (None when the
    candidate has no such field), ``fr`` and ``en`` one sentence saying why, from published fields.
    """

    criterion: str
    matched: bool
    value: float
    weight: float
    points: float
    validated: bool | None
    fr: str
    en: str


@dataclass(frozen=True)
class RankedCandidate:
    """One candidate of a ranking: the plugin's pseudonym for the seeker, a score and why.

    ``explanation`` is free text; ``criteria`` says, criterion by criterion, what matched.

    NOTE: a score ranks candidates for an employer to look at; it decides nothing about the
    seeker (GDPR article 22, docs/design.md).
    """

    pseudonym: str
    score: float
    explanation: tuple[str, ...] = ()
    criteria: tuple[CriterionMatch, ...] = ()


@dataclass(frozen=True)
class Ranking:
    """A ranking hook's whole answer: a page of candidates, best first, and how many seekers match
    in all (``total``, over every page). A hook may instead return the candidates alone."""

    candidates: tuple[RankedCandidate, ...]
    total: int


@dataclass(frozen=True)
class InboundMessage:
    """A message to a channel endpoint, as the plugin receives it, once the core has checked it.

    The core has authenticated the client (its token carries ``channel:<plugin>``), verified the
    Standard Webhooks signature over the raw bytes with the client's secret, bounded the size and
    the timestamp, and parsed the body as a JSON object; ``raw`` is those bytes, exactly as they
    were signed, and ``headers`` the request's headers (lower-case names) without its credentials
    (``authorization``, ``cookie``). ``message_id`` is the ``webhook-id``, the same on every retry.
    """

    client_id: str
    body: Mapping[str, Any]
    raw: bytes = b""
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    message_id: str = ""


@dataclass(frozen=True)
class ChannelReply:
    """What a channel endpoint answers: a status and a JSON body (no personal data)."""

    status: int = 200
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelEndpoint:
    """An inbound endpoint of a channel integration, served at ``/api/v1/channels/<plugin>/<path>``.

    Only service clients registered for the scope ``channel:<plugin>`` may call it, with messages
    signed by their webhook secret; the handler gets the checked message and a :class:`ChannelContext`.
    Its reply's status is ``status`` (the message was taken) or 422 (refused: not the channel's
    format). ``body_schema`` and ``reply_schema``, JSON Schemas as plain data, describe the
    messages and the accepted replies' bodies in the OpenAPI document.
    """

    path: str
    handler: Callable[[InboundMessage, ChannelContext], ChannelReply]
    summary: str
    methods: tuple[str, ...] = ("POST",)
    status: int = 200
    body_schema: Mapping[str, Any] | None = None
    reply_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TaxonomyConcept:
    """An occupation or a skill of a taxonomy source, with its labels by language."""

    code: str
    kind: str  # "occupation" or "skill"
    labels: Mapping[str, str]


@dataclass(frozen=True)
class TaxonomyRelation:
    occupation: str
    skill: str
    essential: bool


@dataclass(frozen=True)
class TaxonomySource:
    """A taxonomy a plugin provides (``dossier taxonomy import --source NAME``)."""

    name: str
    description: str
    concepts: Callable[[], Iterator[TaxonomyConcept]]
    relations: Callable[[], Iterator[TaxonomyRelation]]


# -- reference data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A Belgian postal code: its main locality, the mean position of its localities, its province
    (ISO 3166-2). From GeoNames (CC BY 4.0); see plugins/data/README.md."""

    postal_code: str
    name: str
    latitude: float
    longitude: float
    province: str


@functools.cache
def _places() -> Mapping[str, Place]:
    text = (resources.files("plugins") / "data" / "be-postal-codes.csv").read_text(encoding="utf-8")
    return MappingProxyType({
        row["postal_code"]: Place(row["postal_code"], row["name"], float(row["latitude"]), float(row["longitude"]),
                                  row["province"])
        for row in csv.DictReader(io.StringIO(text))
    })


def locate(postal_code: str | None) -> Place | None:
    """The place of a Belgian postal code, or None when it is not one."""
    return _places().get((postal_code or "").strip())


def places() -> Mapping[str, Place]:
    """Every Belgian postal code, by code (read-only)."""
    return _places()


EARTH_RADIUS_KM = 6371.0088


def distance_km(a: Place, b: Place) -> float:
    """The great-circle distance between two places (haversine), in kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


# -- the context of a call ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoreChanges:
    """What changed in one per-seeker store since a cursor (``SubjectStore.changes``).

    ``changed``: (pseudonym, value) of each entry written since, and live; ``removed``: the
    pseudonyms whose entry was deleted since (by the plugin, a withdrawal, a lapse, an erasure) or
    is no longer live. ``cursor`` is what to pass next time; every change committed before the
    call is in this answer or an earlier one.
    """

    cursor: int
    changed: tuple[tuple[str, Any], ...] = ()
    removed: tuple[str, ...] = ()


class SubjectStore(Protocol):
    """The plugin's derived data about seekers, by pseudonym and declared store name.

    Entries are kept under the call's purpose: they are read back only while that purpose is live
    for the seeker, and the service deletes them when it is withdrawn or the seeker is erased.
    """

    def put(self, pseudonym: str, name: str, value: Any) -> None: ...

    def get(self, pseudonym: str, name: str) -> Any | None: ...

    def delete(self, pseudonym: str, name: str | None = None) -> int: ...

    def items(self, name: str) -> Iterator[tuple[str, Any]]: ...

    def changes(self, name: str, since: int = 0) -> StoreChanges: ...


class SharedStore(Protocol):
    """The plugin's data that is about no seeker, by declared store name and key."""

    def put(self, name: str, key: str, value: Any) -> None: ...

    def get(self, name: str, key: str) -> Any | None: ...

    def delete(self, name: str, key: str) -> bool: ...

    def items(self, name: str) -> Iterator[tuple[str, Any]]: ...


@dataclass(frozen=True)
class Advisor:
    """An employer-side advisor as a plugin that alerts advisors knows them (``context.advisors``):
    their account id, the employers assigned to them (ids, and names by id), and the digest they
    chose (``none``, ``daily`` or ``weekly``). Never their name or address: the service delivers,
    not the plugin."""

    id: str
    employers: tuple[str, ...]
    digest: str
    employer_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """What a plugin asks the service to tell an advisor (``context.send_alert``).

    The service keeps it in the advisor's inbox (``GET /api/v1/alerts``) and delivers it to the
    advisor's work e-mail (if they chose so) and to the webhook endpoints an admin registered:
    the plugin opens no socket and holds no address or credential. It must name no seeker (no
    identity, ref or pseudonym): an employer's criteria, counts and times only.

    - ``key``: the plugin's name for this alert, unique: asking again with the same key (an event
      delivered twice) changes nothing and returns the same alert id.
    - ``group``: alerts to one advisor with the same group, asked within ``group_minutes`` of the
      first, are one alert that counts them (``occurrences``): the latest's content, unread again,
      and nothing delivered again.
    - ``criteria``: JSON, what was sought (codes and their labels); ``kind`` names the alert
      (``employer_search``, ``digest``); the titles and texts are plain text, in French and English.
    """

    advisor: str
    kind: str
    key: str
    title_fr: str
    title_en: str
    text_fr: str
    text_en: str
    employer_id: str | None = None
    search_id: str | None = None
    criteria: Mapping[str, Any] = field(default_factory=dict)
    match_count: int | None = None
    no_match: bool = False
    group: str | None = None
    group_minutes: int = 0


class PluginContext(Protocol):
    """What a hook call may use besides its arguments. Its stores stop working when the call returns
    (``Revoked``); ``store`` needs the call's ``purpose`` (calls about no seeker, or an erasure, have none)."""

    @property
    def plugin(self) -> str: ...

    @property
    def purpose(self) -> str | None: ...

    @property
    def store(self) -> SubjectStore: ...

    @property
    def shared(self) -> SharedStore: ...

    @property
    def settings(self) -> Mapping[str, Any]: ...

    @property
    def log(self) -> logging.Logger: ...

    def now(self) -> datetime: ...

    def advisors(self, employer_id: str | None = None) -> tuple[Advisor, ...]:
        """The employer-side advisors (of ``employer_id``, or all with an employer); for a plugin
        whose manifest ``sends_alerts``."""
        ...

    def send_alert(self, alert: Alert) -> str:
        """Queue ``alert`` (in the inbox, and for delivery after this commits); its id. For a plugin
        whose manifest ``sends_alerts``; ``ValueError`` for an alert the service refuses."""
        ...


class ChannelContext(PluginContext, Protocol):
    """The context of a channel endpoint: it records what arrived through the channel.

    The seeker is found by an exact identifier (e-mail or national register number) through the
    blind index; each method returns the record's ref, or None when no one seeker matches (the
    channel learns nothing more), and raises ValueError for invalid arguments. What a handler
    records is written when it has returned a 2xx reply, all in one transaction with the message's
    idempotency key and the reply, so that a retried message is answered again and recorded once;
    after a refusal (422), an error or a time-out, nothing is.
    """

    def record_contact(self, *, email: str | None = None, national_id: str | None = None, channel: str,
                       occurred_at: datetime, summary: str) -> str | None: ...

    def record_activity(self, *, email: str | None = None, national_id: str | None = None, kind: str,
                        occurred_at: datetime, description: str, organisation: str | None = None,
                        channel: str | None = None) -> str | None: ...
