"""The example plugin in the real service: it is called only with the seeker's consent, keeps a
monthly digest while it has it, and forgets it when the consent goes or the seeker does."""

from __future__ import annotations

from typing import Any

from dossier_activity_digest.plugin import NAME, PURPOSE

CLIENT = f"plugin:{NAME}"
EVENT = "dossier_activity_recorded"


def record(client: Any, seeker: Any, kind: str, occurred_at: str) -> None:
    response = client.post(seeker.base + "/activities", headers=seeker.auth,
                           json={"kind": kind, "occurred_at": occurred_at, "description": f"Démarche: {kind}"})
    assert response.status_code == 201, response.get_json()


def consent(client: Any, seeker: Any) -> None:
    """The seeker reads the plugin's notice in the catalogue and consents to that version."""
    purposes = {p["purpose"]: p for p in client.get("/api/v1/purposes", headers=seeker.auth).get_json()}
    response = client.post(seeker.base + "/consents", headers=seeker.auth,
                           json={"purpose": PURPOSE, "notice_version": purposes[PURPOSE]["notice_version"]})
    assert response.status_code == 201, response.get_json()


def withdraw(client: Any, seeker: Any) -> None:
    assert client.delete(seeker.base + f"/consents/{PURPOSE}", headers=seeker.auth).status_code == 200


def plugin_entries(client: Any, seeker: Any, action: str) -> list[dict[str, Any]]:
    """What the seeker reads of the plugin in "who accessed my data"."""
    log = client.get(seeker.base + "/access-log", headers=seeker.auth).get_json()["entries"]
    return [e for e in log if e["actor_role"] == "plugin" and e["actor"] == NAME and e["action"] == action]


def test_the_plugin_is_registered_and_brings_its_purpose_with_french_and_english_notices(client, seeker, admin) -> None:
    # (The built-in plugins run beside it, and an installed copy of the example would be listed too,
    # as "not_enabled": the tests give the plugin.)
    (entry,) = [e for e in client.get("/api/v1/plugins", headers=admin.auth).get_json() if e["source"] == "given"]
    assert (entry["name"], entry["source"], entry["purposes"], entry["purposes_brought"]) == (NAME, "given", [PURPOSE], [PURPOSE])
    assert entry["categories"] == ["activity.applications", "activity.interviews", "activity.trainings"]
    assert entry["events"] == [EVENT, "dossier_consent_granted"]
    assert entry["stores"] == [{"name": "monthly_counts", "description": "activities per month and kind, by seeker",
                                "per_subject": True}]
    purposes = {p["purpose"]: p for p in client.get("/api/v1/purposes", headers=seeker.auth).get_json()}
    purpose = purposes[PURPOSE]
    assert purpose["legal_basis"] == "consent" and purpose["seeker_controlled"]
    assert "candidatures" in purpose["notice"]["fr"] and "applications" in purpose["notice"]["en"]


def test_without_consent_the_plugin_is_not_called_and_the_refusal_is_in_the_access_log(client, seeker, hook_calls, digest_of) -> None:
    record(client, seeker, "application", "2026-11-03T09:30:00+01:00")
    assert [c for c in hook_calls if c.hook == EVENT] == []
    assert digest_of(seeker) is None
    (refusal,) = plugin_entries(client, seeker, "plugin:view:release")
    assert (refusal["decision"], refusal["reason"], refusal["purposes"], refusal["categories"]) == (
        "deny", "consent_required", [PURPOSE], [])


def test_with_consent_the_plugin_keeps_the_count_of_activities_per_month(client, seeker, hook_calls, digest_of) -> None:
    consent(client, seeker)
    record(client, seeker, "application", "2026-11-03T09:30:00+01:00")
    record(client, seeker, "application", "2026-11-17T14:00:00+01:00")
    record(client, seeker, "training", "2026-12-01T08:00:00+01:00")
    record(client, seeker, "interview", "2026-12-09T10:00:00+01:00")
    # "Other" activities are not among the plugin's categories: recording one does not even call it.
    record(client, seeker, "other", "2026-12-10T10:00:00+01:00")
    assert [c.purpose for c in hook_calls if c.hook == EVENT] == [PURPOSE] * 4
    digest = digest_of(seeker)
    assert digest["months"] == {
        "2026-11": {"applications": 2, "interviews": 0, "trainings": 0},
        "2026-12": {"applications": 0, "interviews": 1, "trainings": 1},
    }
    releases = plugin_entries(client, seeker, "plugin:view:release")
    assert releases[-1]["decision"] == "allow"
    assert releases[-1]["categories"] == ["activity.applications", "activity.interviews", "activity.trainings"]


def test_activities_recorded_before_the_consent_are_counted_when_the_seeker_consents(client, seeker, hook_calls,
                                                                                    digest_of) -> None:
    record(client, seeker, "application", "2026-10-20T09:00:00+02:00")
    assert digest_of(seeker) is None
    consent(client, seeker)
    assert [c.hook for c in hook_calls if c.purpose == PURPOSE] == ["dossier_consent_granted"]
    assert digest_of(seeker)["months"] == {"2026-10": {"applications": 1, "interviews": 0, "trainings": 0}}
    # Publishing the profile grants other purposes: nothing for this plugin.
    assert client.post(seeker.base + "/publication", headers=seeker.auth).status_code == 201
    assert [c.hook for c in hook_calls if c.purpose == PURPOSE] == ["dossier_consent_granted"]


def test_withdrawal_purges_the_digest_and_the_plugin_is_not_called_again(client, seeker, hook_calls, digest_of, dossier) -> None:
    consent(client, seeker)
    record(client, seeker, "application", "2026-11-03T09:30:00+01:00")
    assert digest_of(seeker) is not None
    withdraw(client, seeker)
    # Before the withdrawal answered: the store entry is gone and the plugin confirmed.
    assert digest_of(seeker) is None
    assert [c.hook for c in hook_calls][-1] == "dossier_consent_withdrawn"
    (purge,) = dossier("plugins", "purges")
    assert (purge["plugin"], purge["purpose"], purge["cause"], purge["state"]) == (NAME, PURPOSE, "consent_withdrawn", "confirmed")
    (confirmation,) = plugin_entries(client, seeker, "plugin:data:purge")
    assert confirmation["reason"] == "consent_withdrawn:0"
    hook_calls.clear()
    record(client, seeker, "application", "2026-11-04T09:30:00+01:00")
    assert hook_calls == []
    assert digest_of(seeker) is None


def test_erasure_is_confirmed_by_the_plugin(client, seeker, admin, hook_calls) -> None:
    consent(client, seeker)
    record(client, seeker, "training", "2026-11-03T09:30:00+01:00")
    assert client.delete(seeker.base, headers=seeker.auth).status_code in (202, 204)
    assert [c.hook for c in hook_calls][-1] == "dossier_subject_erased"
    (purge,) = client.get("/api/v1/plugins/purges", headers=admin.auth).get_json()
    assert (purge["plugin"], purge["cause"], purge["state"]) == (NAME, "subject_erased", "confirmed")
    assert client.get("/api/v1/plugins/purges?pending=true", headers=admin.auth).get_json() == []
