#!/bin/sh
# Send one call to dossier's call-centre endpoint with curl and openssl, signed per the Standard
# Webhooks specification.
#
#   DOSSIER_URL=http://127.0.0.1:8000 CLIENT_ID=... CLIENT_SECRET=... WEBHOOK_SECRET=whsec_... \
#       sh send_call.sh '{"email": "...", "occurred_at": "2026-12-01T10:02:00+01:00", "summary": "..."}'
set -eu
url=${DOSSIER_URL:-http://127.0.0.1:8000}
body=$1
# The same id on every retry of this message: the service records it once.
message_id=${MESSAGE_ID:-msg_$(openssl rand -hex 16)}

# 1. An access token (client credentials); keep it for its expires_in.
token=$(curl -sS --fail -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$url/api/v1/oauth/token" |
        sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')

# 2. The signature: HMAC-SHA256 of "id.timestamp.body" under the secret (base64 after whsec_).
timestamp=$(date +%s)
key_hex=$(printf '%s' "${WEBHOOK_SECRET#whsec_}" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
signature=$(printf '%s.%s.%s' "$message_id" "$timestamp" "$body" |
            openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | openssl base64 -A)

# 3. The message, exactly the bytes that were signed.
curl -sS -X POST "$url/api/v1/channels/callcentre/calls" \
     -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
     -H "webhook-id: $message_id" -H "webhook-timestamp: $timestamp" -H "webhook-signature: v1,$signature" \
     --data-binary "$body" -w ' %{http_code}\n'
