"""A state-machine test of consent against a simple reference model.

Hypothesis runs random sequences of grants, withdrawals, expiries, notice changes, publication
and unpublication; after every step the decision for the advisor and the states the seeker reads
must match what the model says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from consent import service, store
from consent.catalogue import PUBLICATION_PURPOSES
from core.errors import AccessRefused
from core.errors import Conflict
from core.identity.roles import Actor, Role
from core.models import utcnow

PURPOSES = list(PUBLICATION_PURPOSES)
ACTIVITY = "activity.advisor_access"


@dataclass
class ModelConsent:
    state: str = "never"  # never | granted | withdrawn
    version: int = 0
    expires_at: float | None = None  # hours on the model clock


@dataclass
class Model:
    hours: float = 0.0
    current: dict[str, int] = field(default_factory=dict)
    minimum: dict[str, int] = field(default_factory=dict)
    consents: dict[str, ModelConsent] = field(default_factory=lambda: {p: ModelConsent() for p in PURPOSES})

    def live(self, purpose: str) -> bool:
        c = self.consents[purpose]
        not_expired = c.expires_at is None or c.expires_at > self.hours
        return c.state == "granted" and not_expired and c.version >= self.minimum[purpose]

    def shown_state(self, purpose: str) -> str:
        c = self.consents[purpose]
        if c.state == "granted" and c.expires_at is not None and c.expires_at <= self.hours:
            return "expired"
        return c.state


def test_consent_decisions_follow_the_reference_model(rt, gateway, make_person) -> None:
    start = utcnow()

    class ConsentMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            seeker, advisor = make_person(Role.SEEKER), make_person(Role.ADVISOR)
            from core.identity import accounts

            accounts.assign_seeker(rt, advisor.username, seeker.username)
            self.subject = seeker.subject_id
            self.seeker = Actor(seeker.id, Role.SEEKER, subject_id=seeker.subject_id)
            self.advisor = Actor(advisor.id, Role.ADVISOR)
            self.model = Model()
            with rt.engine.connect() as conn:
                for entry in store.catalogue(conn):
                    self.model.current[entry.name] = entry.notice.version
                    self.model.minimum[entry.name] = entry.min_notice_version
            rt.clock = lambda: start + timedelta(hours=self.model.hours)

        @rule(purpose=st.sampled_from(PURPOSES), stale=st.booleans(), expiring=st.booleans())
        def grant(self, purpose: str, stale: bool, expiring: bool) -> None:
            version = self.model.current[purpose] - (1 if stale else 0)
            expires = start + timedelta(hours=self.model.hours + 1) if expiring else None
            try:
                service.grant(rt, gateway, self.seeker, self.subject, purpose, version, "web", expires)
            except Conflict:
                assert stale or version != self.model.current[purpose]
                return
            assert version == self.model.current[purpose]
            self.model.consents[purpose] = ModelConsent("granted", version, self.model.hours + 1 if expiring else None)

        @rule(purpose=st.sampled_from(PURPOSES))
        def withdraw(self, purpose: str) -> None:
            try:
                service.withdraw(rt, gateway, self.seeker, self.subject, purpose)
            except Conflict:
                assert self.model.consents[purpose].state != "granted"
                return
            assert self.model.consents[purpose].state == "granted"
            consent = self.model.consents[purpose]
            self.model.consents[purpose] = ModelConsent("withdrawn", consent.version, None)

        @rule()
        def publish(self) -> None:
            service.publish(rt, gateway, self.seeker, self.subject, None)
            for purpose in PURPOSES:
                self.model.consents[purpose] = ModelConsent("granted", self.model.current[purpose], None)

        @rule()
        def unpublish(self) -> None:
            granted = [p for p in PURPOSES if self.model.consents[p].state == "granted"]
            try:
                service.unpublish(rt, gateway, self.seeker, self.subject)
            except Conflict:
                assert not granted
                return
            for purpose in granted:
                self.model.consents[purpose] = ModelConsent("withdrawn", self.model.consents[purpose].version, None)

        @rule(hours=st.sampled_from([0.5, 2.0]))
        def time_passes(self, hours: float) -> None:
            self.model.hours += hours

        @rule(purpose=st.sampled_from(PURPOSES), material=st.booleans())
        def notice_changes(self, purpose: str, material: bool) -> None:
            result = service.publish_notice(rt, purpose, "Nouvelle notice.", "New notice.", material)
            self.model.current[purpose] = result.notice_version
            if material:
                self.model.minimum[purpose] = result.notice_version

        @invariant()
        def decisions_match_the_model(self) -> None:
            from core.dossier.service import list_activities

            try:
                list_activities(rt, self.advisor, self.subject)
                allowed = True
            except AccessRefused:
                allowed = False
            assert allowed == self.model.live(ACTIVITY)
            shown = {s.purpose: s for s in service.consents_of(rt, self.seeker, self.subject)}
            for purpose in PURPOSES:
                assert shown[purpose].state == self.model.shown_state(purpose)
                consent = self.model.consents[purpose]
                stale = consent.state == "granted" and consent.version < self.model.minimum[purpose]
                assert shown[purpose].reconsent_required == stale

    run_state_machine_as_test(
        ConsentMachine,
        settings=settings(max_examples=60, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]),
    )
