"""``dossier demo``: fictitious accounts, an employer, caseloads and dossiers to try the service.

Every person here is invented. Data is written through the same services as the API, so the
policy decides and everything personal is sealed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from consent import service as consent_service
from core.dossier import service
from core.errors import NotFound
from core.identity import accounts
from core.identity.roles import Actor, Role
from core.models import employers
from core.plugins.gateway import PluginGateway
from core.runtime import Runtime

DEMO_PASSWORD = "demo-dossier-2026"
DEMO_EMPLOYER = "Batimat Liège SA (démo)"

STAFF: tuple[tuple[str, Role], ...] = (
    ("admin", Role.ADMIN),
    ("auditrice", Role.AUDITOR),
    ("conseiller.dupont", Role.ADVISOR),
    ("conseillere.entreprises", Role.ADVISOR),
)

SEEKERS: dict[str, dict[str, Any]] = {
    "marie.demo": {
        "identity": {"name": "Marie Exemple", "email": "marie.exemple@example.org", "phone": "+32 470 00 00 01",
                     "national_id": None, "birth_date": "1991-04-12",
                     "address": {"street": "Rue de l'Exemple 1", "postal_code": "4000", "city": "Liège", "country": "BE"}},
        "profile": {"occupations": ["occ.welder"], "skills": ["skill.tig-welding", "skill.read-technical-drawings"],
                    "languages": [{"code": "fr", "level": "native"}, {"code": "nl", "level": "B1"}],
                    "postal_code": "4000", "mobility_radius_km": 30, "contract_types": ["permanent", "fixed_term"],
                    "working_time": ["full_time"], "licences": ["B"]},
        "activities": [("application", "2026-11-02T09:30:00+01:00", "Candidature spontanée chez un chaudronnier")],
        "contacts": [("in_person", "2026-10-20T10:00:00+01:00", "Premier entretien de diagnostic")],
        "publish": True,
    },
    "youssef.demo": {
        "identity": {"name": "Youssef Démo", "email": "youssef.demo@example.org", "phone": None, "national_id": None,
                     "birth_date": "1987-09-30",
                     "address": {"street": "Avenue Fictive 22", "postal_code": "6000", "city": "Charleroi", "country": "BE"}},
        "profile": {"occupations": ["occ.forklift-operator"], "skills": ["skill.forklift-operation"],
                    "languages": [{"code": "fr", "level": "native"}, {"code": "ar", "level": "C2"}],
                    "postal_code": "6000", "mobility_radius_km": 20, "licences": ["B", "C"]},
        "activities": [("training", "2026-09-15T08:00:00+02:00", "Formation cariste (5 jours)")],
        "contacts": [("phone", "2026-11-05T14:00:00+01:00", "Suivi téléphonique")],
    },
    "lea.demo": {
        "identity": {"name": "Léa Fictive", "email": None, "phone": None, "national_id": None, "birth_date": None,
                     "address": None},
        "profile": {"occupations": ["occ.care-assistant"], "postal_code": "5000", "available_from": "2027-01-04"},
        "activities": [],
        "contacts": [],
    },
}


def load_demo(rt: Runtime, plugins: PluginGateway) -> Iterator[str]:
    """Create what is missing; an existing demo account is left as it is."""
    employer_id = _employer(rt)
    made: dict[str, accounts.AccountInfo] = {}
    for username, role in STAFF:
        made[username] = _account(rt, username, role)
    made["recruteur.batimat"] = _account(rt, "recruteur.batimat", Role.EMPLOYER, employer_id)
    advisor = made["conseiller.dupont"]
    for username, content in SEEKERS.items():
        existed = _exists(rt, username)
        seeker = _account(rt, username, Role.SEEKER)
        accounts.assign_seeker(rt, advisor.username, username)
        if not existed:
            _fill(rt, plugins, seeker, advisor, content)
    accounts.assign_employer(rt, "conseillere.entreprises", employer_id)
    yield f"demo: {len(made) + len(SEEKERS)} accounts, password {DEMO_PASSWORD!r} (fictitious people only)"
    for username in [*made, *SEEKERS]:
        info = accounts.account_by_username(rt, username)
        yield f"  {info.role.value:9} {username}" + (f"  subject_id={info.subject_id}" if info.subject_id else "")
    yield f"  employer  {DEMO_EMPLOYER}  id={employer_id}"


def _exists(rt: Runtime, username: str) -> bool:
    try:
        accounts.account_by_username(rt, username)
    except NotFound:
        return False
    return True


def _account(rt: Runtime, username: str, role: Role, employer_id: str | None = None) -> accounts.AccountInfo:
    if _exists(rt, username):
        return accounts.account_by_username(rt, username)
    return accounts.create_account(rt, username, role, DEMO_PASSWORD, employer_id)


def _employer(rt: Runtime) -> str:
    with rt.engine.connect() as conn:
        found = conn.execute(select(employers.c.id).where(employers.c.name == DEMO_EMPLOYER)).scalar()
    return found or accounts.create_employer(rt, DEMO_EMPLOYER)["id"]


def _fill(rt: Runtime, plugins: PluginGateway, seeker: accounts.AccountInfo, advisor: accounts.AccountInfo,
          content: dict[str, Any]) -> None:
    subject_id = seeker.subject_id or ""
    as_seeker = Actor(seeker.id, Role.SEEKER, subject_id=subject_id, client_id="dossier-demo")
    as_advisor = Actor(advisor.id, Role.ADVISOR, client_id="dossier-demo")
    service.put_identity(rt, as_seeker, subject_id, content["identity"])
    service.patch_profile(rt, plugins, as_seeker, subject_id, content["profile"])
    for kind, at, description in content["activities"]:
        service.record_activity(rt, plugins, as_seeker, subject_id,
                                {"kind": kind, "occurred_at": datetime.fromisoformat(at), "description": description})
    for channel, at, summary in content["contacts"]:
        service.record_contact(rt, plugins, as_advisor, subject_id,
                               {"channel": channel, "occurred_at": datetime.fromisoformat(at), "summary": summary})
    if content.get("publish"):
        consent_service.publish(rt, plugins, as_seeker, subject_id, None)
