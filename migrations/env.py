"""Alembic environment: runs on the connection that core.db.migrate hands over."""

from alembic import context

# Each models module imported registers its package's tables on the metadata.
import audit.models  # noqa: F401
import consent.models  # noqa: F401
import core.contact_requests.models  # noqa: F401, RUF100 (ruff counts the `core` name as used)
import core.plugins.models  # noqa: F401, RUF100
import core.delivery.models  # noqa: F401, RUF100
import core.search.models  # noqa: F401, RUF100
import core.evidence.models  # noqa: F401, RUF100
from core.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the CLI always passes a connection
    raise SystemExit("Run migrations with `dossier init` (or core.db.migrate), not the alembic command.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
