"""Outbound webhooks, signed per the Standard Webhooks specification.

Each delivery carries ``webhook-id`` (the delivery's id: the same on every attempt, so a receiver
de-duplicates on it), ``webhook-timestamp`` (seconds since the epoch, at the attempt) and
``webhook-signature``: space-separated ``version,base64`` signatures of
``{webhook-id}.{webhook-timestamp}.{body}``, with

- ``v1a``: Ed25519 with the instance's webhook key, published in the JWKS
  (``"dossier_use": "webhook"``); a receiver accepts a signature that any of those keys verifies,
  so a rotation (``dossier keys rotate-signing --use webhook``) needs nothing of it;
- ``v1``: HMAC-SHA256 with the endpoint's own secret (``whsec_`` and base64), derived from the
  keyring's webhook key (nothing secret is in the database). While a secret is replaced, the
  previous one signs too, for ``SECRET_OVERLAP``: a receiver moves to the new one without a gap.

A body is thin: what happened and references to it, never a person's data (docs/alerts.md).
Deliveries go only to the URL an admin registered; redirects are not followed.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from core.crypto.standard_webhooks import derive_secret

SECRET_OVERLAP = timedelta(hours=24)
# What is read of a receiver's answer (it is not kept, only its status).
MAX_ANSWER_BYTES = 4096
USER_AGENT = "dossier-webhooks/1"


class EndpointError(ValueError):
    """A URL that cannot be registered as an endpoint; the message says why."""


def check_url(url: str) -> str:
    """``url`` if it can receive deliveries: http or https, a host, no credentials or fragment."""
    if not isinstance(url, str) or len(url) > 2000 or any(c.isspace() for c in url):
        raise EndpointError("a webhook URL is one http or https URL of at most 2,000 characters, without spaces")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError("a webhook URL starts with https:// (or http://) and names a host")
    if parts.username or parts.password:
        raise EndpointError("a webhook URL holds no user name or password; deliveries are signed instead")
    if parts.fragment:
        raise EndpointError("a webhook URL has no #fragment")
    try:
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        raise EndpointError("the port of the webhook URL is not a valid number") from None
    return url


def endpoint_secret(webhook_key: bytes, endpoint_id: str, generation: int) -> bytes:
    """The HMAC secret of one endpoint at one generation, derived from the keyring's webhook key."""
    return derive_secret(webhook_key, "webhook-secret", endpoint_id, generation)


def payload(event_type: str, at: datetime, data: dict[str, Any]) -> bytes:
    """The body: ``type``, ``timestamp`` and ``data``, as the specification's examples have it."""
    return json.dumps({"type": event_type, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data},
                      separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


@dataclass(frozen=True)
class Answer:
    """What an attempt came to: a status (None when no answer came) and the outcome's name."""

    status: int | None
    outcome: str

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver asks not to be sent anything again."""
        return self.status == 410


class Sender:
    """Sends deliveries over HTTP/1.1, keeping one connection open per receiver between them
    (``http.client``: redirects are never followed, every exchange has the timeout)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._connections: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}
        self._tls = ssl.create_default_context()

    def post(self, url: str, message_id: str, body: bytes, signature: str, timestamp: int) -> Answer:
        """Send one delivery; never raises for what the network or the receiver does."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"content-type": "application/json", "user-agent": USER_AGENT, "webhook-id": message_id,
                   "webhook-timestamp": str(timestamp), "webhook-signature": signature}
        reused = key in self._connections
        try:
            try:
                return self._exchange(key, path, body, headers)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                # A kept connection the receiver had closed meanwhile: once more, on a new one.
                return self._exchange(key, path, body, headers)
        except TimeoutError:
            self._drop(key)
            return Answer(None, "timeout")
        except ConnectionRefusedError:
            self._drop(key)
            return Answer(None, "connect_error")
        except ssl.SSLError:
            self._drop(key)
            return Answer(None, "tls_error")
        except (OSError, http.client.HTTPException) as exc:
            self._drop(key)
            return Answer(None, _error_name(exc))

    def close(self) -> None:
        for key in list(self._connections):
            self._drop(key)

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _exchange(self, key: tuple[str, str, int | None], path: str, body: bytes, headers: dict[str, str]) -> Answer:
        connection = self._connections.get(key)
        if connection is None:
            scheme, host, port = key
            connection = (http.client.HTTPSConnection(host, port, timeout=self._timeout, context=self._tls) if scheme == "https"
                          else http.client.HTTPConnection(host, port, timeout=self._timeout))
            self._connections[key] = connection
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read(MAX_ANSWER_BYTES + 1)  # read, not kept
            if response.will_close or len(answer) > MAX_ANSWER_BYTES:
                self._drop(key)
        except BaseException:
            self._drop(key)
            raise
        return Answer(response.status, f"http_{response.status}")

    def _drop(self, key: tuple[str, str, int | None]) -> None:
        connection = self._connections.pop(key, None)
        if connection is not None:
            connection.close()


def _error_name(exc: Exception) -> str:
    """The kind of a network error, as an outcome (never its message, which may quote the URL)."""
    name = type(exc).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")[:60]
