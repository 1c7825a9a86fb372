"""The delivery service: advisors' alerts, the transactional outbox, e-mail and signed webhooks."""
