"""The hooks of the alerts plugin.

On each employer's search (``dossier_employer_search_performed``) it alerts every advisor assigned
to that employer: what was sought (the criteria with their labels), how many published profiles
matched, and whether none did. Similar searches by one employer (the same occupation and skills,
the same found-or-not) within ``group_minutes`` are one alert that counts them. It keeps a line
per search for each advisor who wants a digest (``context.shared``, about no seeker), and sends
the digests from its periodic work (``dossier_scheduled``): daily ones for the previous UTC day,
weekly ones on Mondays for the previous seven days, the searches that found no one first.

It never receives, and so never sends, anything about a candidate: the search event carries the
criteria and a count only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from plugins.alerts import texts
from plugins.api import Alert, EmployerSearch, Manifest, PluginContext, PluginSetting, StoredData, hookimpl

NAME = "alerts"
VERSION = "1.0"
DIGEST_STORE = "digest_lines"
SETTINGS = (
    PluginSetting("group_minutes", int, 60, "similar searches by one employer within this many minutes are one alert",
                  minimum=0, maximum=7 * 24 * 60),
    PluginSetting("digest_hour", int, 6, "the UTC hour from which each day's (or Monday's) digest is sent", minimum=0, maximum=23),
)


class AlertsPlugin:
    @hookimpl
    def dossier_manifest(self) -> Manifest:
        return Manifest(
            name=NAME, version=VERSION, events=("dossier_employer_search_performed",), sends_alerts=True,
            stores=(StoredData(DIGEST_STORE, "one line per employer search for each advisor's next digest (criteria labels "
                               "and counts)", per_subject=False),),
            description="Alertes aux conseillers : ce que leurs employeurs cherchent et ne trouvent pas / "
                        "advisors' alerts of their employers' searches",
            settings=SETTINGS,
        )

    @hookimpl
    def dossier_employer_search_performed(self, search: EmployerSearch, context: PluginContext) -> None:
        criteria = _plain(search.criteria)
        match_count = max(int(search.match_count), 0)
        group = f"search:{search.employer_id}:{_similarity(criteria, match_count == 0)}"
        for advisor in context.advisors(search.employer_id):
            employer = advisor.employer_names.get(search.employer_id, search.employer_id)
            context.send_alert(Alert(
                advisor=advisor.id, kind="employer_search", key=f"search:{search.search_id}:{advisor.id}",
                title_fr=texts.search_title(criteria, match_count, "fr"), title_en=texts.search_title(criteria, match_count, "en"),
                text_fr=texts.search_text(criteria, match_count, employer, search.occurred_at, "fr"),
                text_en=texts.search_text(criteria, match_count, employer, search.occurred_at, "en"),
                employer_id=search.employer_id, search_id=search.search_id, criteria=criteria, match_count=match_count,
                no_match=match_count == 0, group=group, group_minutes=int(context.settings["group_minutes"]),
            ))
            if advisor.digest != "none":
                context.shared.put(DIGEST_STORE, f"{advisor.id}:{search.search_id}", {
                    "advisor": advisor.id, "at": search.occurred_at.isoformat(), "employer": employer,
                    "sought": {"fr": texts.sought(criteria, "fr"), "en": texts.sought(criteria, "en")},
                    "match_count": match_count, "no_match": match_count == 0,
                })

    @hookimpl
    def dossier_scheduled(self, context: PluginContext) -> None:
        now = context.now()
        if now.hour < int(context.settings["digest_hour"]):
            return
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        lines: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for key, line in context.shared.items(DIGEST_STORE):
            lines.setdefault(line["advisor"], []).append((key, line))
        for advisor in context.advisors():
            held = lines.pop(advisor.id, [])
            if advisor.digest == "weekly" and today.weekday() != 0:
                continue
            days = 7 if advisor.digest == "weekly" else 1
            due = [(key, line) for key, line in held if datetime.fromisoformat(line["at"]) < today]
            if advisor.digest != "none" and due:
                entries = [line for _, line in due]
                context.send_alert(Alert(
                    advisor=advisor.id, kind="digest", key=f"digest:{advisor.id}:{(today - timedelta(days=days)).date()}:{days}",
                    title_fr=texts.digest_title(advisor.digest, entries, "fr"), title_en=texts.digest_title(advisor.digest, entries, "en"),
                    text_fr=texts.digest_text(entries, "fr"), text_en=texts.digest_text(entries, "en"),
                    criteria={"searches": len(entries), "no_match": sum(1 for e in entries if e["no_match"]),
                              "from": min(e["at"] for e in entries), "until": today.isoformat()},
                    match_count=sum(int(e["match_count"]) for e in entries),
                    no_match=any(e["no_match"] for e in entries),
                ))
            for key, _ in due:
                context.shared.delete(DIGEST_STORE, key)
        # Lines of advisors who no longer have employers (or an account) go.
        for held in lines.values():
            for key, _ in held:
                context.shared.delete(DIGEST_STORE, key)


def _plain(value: Any) -> Any:
    """The event's criteria (frozen mappings and tuples) as JSON's objects and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _similarity(criteria: Mapping[str, Any], no_match: bool) -> str:
    """What makes two searches similar: the occupation, the skills (in any order), the place and
    whether they found anyone; a digest of it."""
    skills = criteria.get("skills") or {}
    essence = {
        "occupation": criteria.get("occupation"), "required": sorted(skills.get("required") or ()),
        "preferred": sorted(skills.get("preferred") or ()), "postal_code": criteria.get("postal_code"), "no_match": no_match,
    }
    return hashlib.sha256(json.dumps(essence, sort_keys=True).encode()).hexdigest()[:24]
