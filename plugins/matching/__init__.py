"""The built-in matching plugin: "Je cherche un candidat" (docs/matching.md).

``create()`` makes one plugin per app: each holds its own index of the published profiles.
"""

from __future__ import annotations

from plugins.matching.plugin import MatchingPlugin


def create() -> MatchingPlugin:
    return MatchingPlugin()
