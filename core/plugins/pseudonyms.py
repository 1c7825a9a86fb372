"""Per-plugin pseudonyms: each plugin knows a seeker (and a record) by a name of its own.

``HMAC-SHA256(plugin key, subject id)``, where the plugin key is derived from the instance's
pseudonym key and the plugin's name: two plugins' names for one seeker share nothing, so what they
hold cannot be joined, and without the instance's key a pseudonym cannot be traced back. The core
maps a plugin's answers back through ``plugin_holdings``, never by reversing the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac

LENGTH = 32  # hex characters: 128 bits


def plugin_key(pseudonym_key: bytes, plugin: str) -> bytes:
    """The key of one plugin's pseudonyms."""
    return hmac.new(pseudonym_key, b"dossier/plugin-pseudonym/v1|" + plugin.encode(), hashlib.sha256).digest()


def subject_pseudonym(key: bytes, subject_id: str) -> str:
    return hmac.new(key, b"subject|" + subject_id.encode(), hashlib.sha256).hexdigest()[:LENGTH]


def record_ref(key: bytes, record_id: str) -> str:
    return hmac.new(key, b"record|" + record_id.encode(), hashlib.sha256).hexdigest()[:LENGTH]
