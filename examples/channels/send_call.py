"""Send one call to dossier's call-centre endpoint, as a partner's system would: get a token with
the client credentials, sign the message per the Standard Webhooks specification, retry on failure
with the same webhook-id. Only the Python standard library.

    DOSSIER_URL=http://127.0.0.1:8000 CLIENT_ID=... CLIENT_SECRET=... WEBHOOK_SECRET=whsec_... \\
        python send_call.py '{"email": "...", "occurred_at": "2026-12-01T10:02:00+01:00", "summary": "..."}'

Prints the service's answer, e.g. ``202 {"status": "recorded"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def access_token(url: str, client_id: str, client_secret: str) -> str:
    """An access token by the client-credentials grant (RFC 6749 section 4.4); keep it until
    ``expires_in`` runs out rather than asking for one per message."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    request = urllib.request.Request(f"{url}/api/v1/oauth/token", data=b"grant_type=client_credentials",
                                     headers={"Authorization": f"Basic {basic}",
                                              "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["access_token"])


def signature(webhook_secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under the decoded secret."""
    key = base64.b64decode(webhook_secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def send(url: str, token: str, webhook_secret: str, message: dict[str, object], message_id: str,
         attempts: int = 5) -> tuple[int, str]:
    """POST the message, signed; the same ``message_id`` on every attempt, so the service records it
    once however many of them arrive. Retries after a network error, a 409 or a 5xx."""
    body = json.dumps(message).encode()  # the bytes signed are the bytes sent
    for attempt in range(attempts):
        timestamp = int(time.time())  # fresh on each attempt: the service refuses one over 5 minutes old
        request = urllib.request.Request(f"{url}/api/v1/channels/callcentre/calls", data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", "webhook-id": message_id,
            "webhook-timestamp": str(timestamp), "webhook-signature": signature(webhook_secret, message_id, timestamp, body)})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            if error.code != 409 and error.code < 500:
                return error.code, error.read().decode()  # refused: retrying would not change it
        except OSError:
            pass
        time.sleep(2 ** attempt)
    raise SystemExit("the service did not take the message; try again later with the same webhook-id")


def main() -> None:
    url = os.environ.get("DOSSIER_URL", "http://127.0.0.1:8000").rstrip("/")
    token = access_token(url, os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"])
    message_id = os.environ.get("MESSAGE_ID") or f"msg_{uuid.uuid4().hex}"
    status, answer = send(url, token, os.environ["WEBHOOK_SECRET"], json.loads(sys.argv[1]), message_id)
    print(status, answer)


if __name__ == "__main__":
    main()
