"""The HTTP API: operations with schemas, problem+json errors, request logs, OpenAPI."""
