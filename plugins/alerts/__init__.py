"""The built-in alerts plugin: the advisor learns what their employers sought, found or failed
to find (docs/alerts.md).

``create()`` makes one plugin per app.
"""

from __future__ import annotations

from plugins.alerts.plugin import AlertsPlugin


def create() -> AlertsPlugin:
    return AlertsPlugin()
