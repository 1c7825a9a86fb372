"""The attestation of active job search: made for the period and entries the seeker chooses, as a
PDF/A (tagged) or a print-ready page, carrying its entries as JSON signed Ed25519; verified by
anyone, byte for byte, and revealing nothing but what it covers."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from core.identity import accounts
from core.identity.roles import Role
from tests.conftest import Person
from tests.plugins.helpers import audit_entries, base, grant

pypdf = pytest.importorskip("pypdf")
try:
    import weasyprint  # noqa: F401
except OSError as exc:  # pragma: no cover - the machines have Pango
    pytest.skip(f"WeasyPrint cannot load its system libraries here ({exc}); install Pango", allow_module_level=True)

HOLDER = "Zoé Qxevidence-Marker"
ACTIVITIES = [
    {"kind": "application", "occurred_at": "2026-11-03T10:00:00+01:00", "description": "Candidature soudeur chez Batimat"},
    {"kind": "interview", "occurred_at": "2026-11-12T14:30:00+01:00", "description": "Entretien chez Métal Liège"},
    {"kind": "training", "occurred_at": "2026-11-20T09:00:00+01:00", "description": "Module TIG, Technifutur"},
    {"kind": "other", "occurred_at": "2026-12-02T09:00:00+01:00", "description": "Hors période"},
]
NOVEMBER = "from=2026-11-01&to=2026-11-30"


@pytest.fixture
def seeker(client: Any, make_person: Any) -> Person:
    person = make_person(Role.SEEKER)
    identity = {"name": HOLDER, "email": "zoe@example.org", "phone": None, "national_id": None, "birth_date": None, "address": None}
    assert client.put(base(person) + "/identity", json=identity, headers=person.auth).status_code == 200
    for activity in ACTIVITIES:
        assert client.post(base(person) + "/activities", json=activity, headers=person.auth).status_code == 201
    return person


def activity_ids(client: Any, seeker: Person) -> dict[str, str]:
    return {a["description"]: a["id"] for a in client.get(base(seeker) + "/activities", headers=seeker.auth).get_json()}


def evidence(client: Any, who: Person, seeker: Person, query: str = NOVEMBER, **headers: str) -> Any:
    return client.get(f"{base(seeker)}/evidence?{query}", headers={**who.auth, **headers})


def attachments(pdf: bytes) -> dict[str, bytes]:
    return {name: content[0] for name, content in pypdf.PdfReader(io.BytesIO(pdf)).attachments.items()}


def test_the_pdf_parses_reads_and_carries_the_chosen_entries_as_json(client, seeker) -> None:
    ids = activity_ids(client, seeker)
    chosen = [ids["Entretien chez Métal Liège"], ids["Candidature soudeur chez Batimat"]]
    response = evidence(client, seeker, seeker, f"{NOVEMBER}&entries={','.join(chosen)}")
    assert (response.status_code, response.mimetype) == (200, "application/pdf")
    assert response.headers["Content-Disposition"] == 'attachment; filename="attestation-2026-11-01-2026-11-30.pdf"'
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())  # table cells wrap
    assert "Attestation de recherche active d'emploi" in text and "Evidence of active job search" in text
    assert "Entretien chez Métal Liège" in text and "Module TIG" not in text and HOLDER in text
    embedded = json.loads(attachments(response.data)["evidence.json"])
    assert [e["id"] for e in embedded["entries"]] == [chosen[1], chosen[0]]  # in date order
    assert embedded["period"] == {"from": "2026-11-01", "to": "2026-11-30"} and embedded["holder"] == {"name": HOLDER}
    # PDF/A-3b, tagged for accessibility.
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root
    assert b"pdfaid:part" in reader.xmp_metadata.stream.get_data() if reader.xmp_metadata else False


def test_by_default_the_period_s_activities_all_and_only_those(client, seeker) -> None:
    embedded = json.loads(attachments(evidence(client, seeker, seeker).data)["evidence.json"])
    assert [e["description"] for e in embedded["entries"]] == [a["description"] for a in ACTIVITIES[:3]]


def test_anyone_verifies_it_and_learns_only_what_it_covers(client, seeker) -> None:
    document = evidence(client, seeker, seeker).data
    answer = client.post("/api/v1/evidence/verifications", data=document, headers={"Content-Type": "application/pdf"})
    assert answer.status_code == 200
    result = answer.get_json()
    assert result["authentic"] is True and result["entries"] == 3
    assert result["period"] == {"from": "2026-11-01", "to": "2026-11-30"} and result["media_type"] == "application/pdf"
    assert HOLDER not in answer.get_data(as_text=True) and "Batimat" not in answer.get_data(as_text=True)
    looked_up = client.get(f"/api/v1/evidence/{result['code'].lower().replace('-', '')}")
    assert looked_up.status_code == 200 and looked_up.get_json()["documents"][0]["evidence_id"] == result["evidence_id"]
    assert HOLDER not in looked_up.get_data(as_text=True)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_one_byte_changed_and_it_no_longer_verifies(client, seeker, where) -> None:
    document = bytearray(evidence(client, seeker, seeker).data)
    at = int(len(document) * where)
    document[at] ^= 0x01
    answer = client.post("/api/v1/evidence/verifications", data=bytes(document), headers={"Content-Type": "application/pdf"})
    assert answer.get_json() == {**answer.get_json(), "authentic": False, "reason": "unknown_document"}


def test_the_html_page_is_print_ready_signed_and_verifies(client, seeker) -> None:
    page = evidence(client, seeker, seeker, Accept="text/html")
    assert (page.status_code, page.mimetype) == (200, "text/html")
    text = page.get_data(as_text=True)
    assert 'lang="fr"' in text and "@page" in text and 'id="evidence-jws"' in text and "<svg" in text
    answer = client.post("/api/v1/evidence/verifications", data=page.data, headers={"Content-Type": "text/html"})
    assert answer.get_json()["authentic"] is True and answer.get_json()["media_type"] == "text/html"
    assert evidence(client, seeker, seeker, f"{NOVEMBER}&format=html").mimetype == "text/html"


def test_a_document_whose_entries_were_changed_fails_its_signature(client, rt, seeker) -> None:
    from core.evidence.document import NotEvidence, verify_embedded
    from core.identity.signing import KeyUse

    page = evidence(client, seeker, seeker, Accept="text/html").data
    keys = rt.signing.public_keyset(KeyUse.EVIDENCE)
    assert verify_embedded(page, keys)["holder"]["name"] == HOLDER
    with pytest.raises(NotEvidence):
        verify_embedded(page.replace("Entretien chez Métal Liège".encode(), "Entretien chez Métal Namur".encode()), keys)


def test_a_document_of_another_instance_does_not_verify_here(client, seeker, tmp_path: Path) -> None:
    from config.settings import load_settings
    from core.app import create_app
    from core.bootstrap import initialise

    other = {"INSTANCE_PATH": str(tmp_path / "other"), "DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}",
             "TESTING": True, "KEYRING_RELOAD_INTERVAL": 0.0}
    list(initialise(load_settings(other, environ={})))
    elsewhere = create_app(other, start=False)
    from core.identity.accounts import create_account
    from core.runtime import runtime

    info = create_account(runtime(elsewhere), "zoe", Role.SEEKER, None, None)
    token = runtime(elsewhere).tokens.issue(info.id, "seeker", subject_id=info.subject_id)
    made = elsewhere.test_client().get(f"/api/v1/seekers/{info.subject_id}/evidence?{NOVEMBER}",
                                       headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 200
    answer = client.post("/api/v1/evidence/verifications", data=made.data, headers={"Content-Type": "application/pdf"})
    assert answer.get_json()["authentic"] is False
    runtime(elsewhere).engine.dispose()


def test_the_command_line_verifies_a_file(client, cli, seeker, tmp_path: Path) -> None:
    good = tmp_path / "attestation.pdf"
    good.write_bytes(evidence(client, seeker, seeker).data)
    verified = cli("evidence", "verify", str(good))
    assert verified.exit_code == 0 and json.loads(verified.output)["entries"] == 3
    bad = tmp_path / "altered.pdf"
    bad.write_bytes(good.read_bytes().replace(b"%%EOF", b"%%EOF ", 1))
    refused = cli("evidence", "verify", str(bad))
    assert refused.exit_code == 1 and json.loads(refused.output)["authentic"] is False


def test_the_advisor_makes_it_only_under_the_activity_consent(client, rt, seeker, make_person) -> None:
    advisor = make_person(Role.ADVISOR)
    accounts.assign_seeker(rt, advisor.username, seeker.username)
    refused = evidence(client, advisor, seeker)
    assert refused.status_code == 403 and refused.get_json()["type"].endswith("consent-required")
    assert evidence(client, make_person(Role.ADVISOR), seeker).status_code == 404  # not theirs
    grant(client, seeker, "activity.advisor_access")
    made = evidence(client, advisor, seeker)
    assert made.status_code == 200
    assert json.loads(attachments(made.data)["evidence.json"])["generated_by"] == "advisor"
    for role in (Role.EMPLOYER, Role.AUDITOR, Role.ADMIN):
        assert evidence(client, make_person(role), seeker).status_code in (403, 404)


def test_each_generation_is_an_audit_entry_the_seeker_reads(client, rt, seeker) -> None:
    evidence(client, seeker, seeker)
    (entry,) = audit_entries(rt, action="dossier:evidence:generate", subject=seeker.subject_id)
    assert entry["decision"] == "allow" and "activity.applications" in entry["categories"]
    log = client.get(base(seeker) + "/access-log", headers=seeker.auth).get_json()
    assert any(e["action"] == "dossier:evidence:generate" for e in log["entries"])


@pytest.mark.parametrize("query", [
    "from=2026-11-30&to=2026-11-01", "to=2026-11-30", "from=2026-01-01&to=2027-06-30", "from=yesterday&to=2026-11-30",
    f"{NOVEMBER}&entries=not-an-id", f"{NOVEMBER}&format=docx", f"{NOVEMBER}&colour=blue",
])
def test_bad_requests_are_422_and_record_nothing(client, rt, seeker, query) -> None:
    before = len(audit_entries(rt))
    response = evidence(client, seeker, seeker, query)
    assert (response.status_code, response.mimetype) == (422, "application/problem+json")
    assert len(audit_entries(rt)) == before


def test_an_entry_not_of_the_period_is_422(client, seeker) -> None:
    ids = activity_ids(client, seeker)
    response = evidence(client, seeker, seeker, f"{NOVEMBER}&entries={ids['Hors période']}")
    assert response.status_code == 422 and response.get_json()["field"] == "entries"


def test_verification_takes_only_a_document(client) -> None:
    assert client.post("/api/v1/evidence/verifications", json={"a": 1}).status_code == 415
    assert client.post("/api/v1/evidence/verifications", data=b"", headers={"Content-Type": "application/pdf"}).status_code == 400
    junk = client.post("/api/v1/evidence/verifications", data=b"%PDF-1.7 junk", headers={"Content-Type": "application/pdf"})
    assert junk.status_code == 200 and junk.get_json()["authentic"] is False
    assert client.get("/api/v1/evidence/AAAA-BBBB-CCCC").status_code == 404
    assert client.get("/api/v1/evidence/not-a-code").status_code == 404
