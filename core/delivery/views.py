"""HTTP endpoints of alerts (advisors), alert preferences, and deliveries (admins)."""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request

from core.access import require_role
from core.delivery import schemas, service
from core.http.api import ApiBlueprint
from core.identity.roles import Actor, Role
from core.runtime import runtime

api = ApiBlueprint("delivery", url_prefix="/api/v1")
TAGS = ("alerts",)


@api.operation("/alerts", summary="Mes alertes / my alerts", tags=TAGS, query=schemas.AlertsQuerySchema,
               response=schemas.AlertSchema(many=True), errors=(403,))
def my_alerts(actor: Actor, query: dict[str, Any]) -> list[service.AlertView]:
    """The advisor's own alerts, the latest first: what their employers sought, how many profiles
    matched, and searches that found no one (`no_match`). Never a candidate. The headers
    `X-Total-Count` (alerts matching the filters) and `X-Unread-Count` (all unread) count them."""
    employer = str(query["employer"]) if query["employer"] else None
    page = service.list_alerts(runtime(), actor, unread=query["unread"], employer_id=employer, no_match=query["no_match"],
                               kind=query["kind"], limit=query["limit"], offset=query["offset"])

    @after_this_request
    def counted(response: Response) -> Response:
        response.headers["X-Total-Count"] = str(page.total)
        response.headers["X-Unread-Count"] = str(page.unread)
        return response

    return page.alerts


@api.operation("/alerts/<uuid:alert_id>", summary="Une alerte / one alert", tags=TAGS, response=schemas.AlertSchema(),
               errors=(403, 404))
def one_alert(actor: Actor, alert_id: str) -> service.AlertView:
    return service.get_alert(runtime(), actor, alert_id)


@api.operation("/alerts/<uuid:alert_id>/read", "POST", summary="Marquer lue / mark read", tags=TAGS,
               response=schemas.AlertSchema(), errors=(403, 404))
def mark_read(actor: Actor, alert_id: str) -> service.AlertView:
    return service.mark_alert(runtime(), actor, alert_id, read=True)


@api.operation("/alerts/<uuid:alert_id>/unread", "POST", summary="Marquer non lue / mark unread", tags=TAGS,
               response=schemas.AlertSchema(), errors=(403, 404))
def mark_unread(actor: Actor, alert_id: str) -> service.AlertView:
    return service.mark_alert(runtime(), actor, alert_id, read=False)


@api.operation("/me/alert-preferences", summary="Mes préférences d'alerte / my alert preferences", tags=TAGS,
               response=schemas.PreferencesSchema(), errors=(403,))
def my_preferences(actor: Actor) -> service.Preferences:
    require_role(actor, Role.ADVISOR)
    return service.preferences(runtime(), actor.account_id)


@api.operation("/me/alert-preferences", "PATCH", summary="Changer mes préférences d'alerte / change my alert preferences",
               tags=TAGS, body=schemas.PreferencesInSchema, response=schemas.PreferencesSchema(), errors=(403,))
def change_preferences(actor: Actor, body: dict[str, Any]) -> service.Preferences:
    """The work e-mail address alerts go to (null removes it), whether each alert is also
    e-mailed, and the digest (none, daily, weekly)."""
    require_role(actor, Role.ADVISOR)
    return service.set_preferences(runtime(), actor.account_id, body)


@api.operation("/deliveries", summary="Livraisons en attente et en échec / pending and failed deliveries", tags=("admin",),
               query=schemas.DeliveriesQuerySchema, response=schemas.DeliveriesSchema(), errors=(403,))
def deliveries(actor: Actor, query: dict[str, Any]) -> service.Overview:
    """For admins: counts by state, the latest deliveries with every attempt, the webhook endpoints."""
    require_role(actor, Role.ADMIN)
    return service.overview(runtime(), query["state"], query["limit"])
