"""``dossier init``: everything an instance needs, created only where missing."""

from __future__ import annotations

import os
from collections.abc import Iterator

from sqlalchemy import func, select

from config.settings import Settings
from consent.store import load_catalogue
from core.crypto.keyring import LocalKeyring
from core.db import make_engine, migrate
from core.identity.signing import SigningKeys
from core.models import taxonomy_concepts
from core.runtime import instance_files
from core.taxonomy.service import load_default


def initialise(settings: Settings) -> Iterator[str]:
    """Create the instance folder, keys and schema, and the default taxonomy; say what was done."""
    instance = settings.instance_path
    instance.mkdir(parents=True, exist_ok=True)
    os.chmod(instance, 0o700)
    yield f"instance: {instance.resolve()}"
    keyring, signing = instance_files(instance)
    if LocalKeyring.create_if_missing(keyring):
        yield "keyring: created"
    else:
        added = LocalKeyring.add_missing_keys(keyring)
        yield f"keyring: present, added {', '.join(added)}" if added else "keyring: present"
    created = SigningKeys.create_missing(signing)
    yield f"signing keys: created {', '.join(created)}" if created else "signing keys: present"
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        yield "database: at the latest migration"
        with engine.begin() as conn:
            added = load_catalogue(conn)
            yield f"purposes: added {', '.join(added)}" if added else "purposes: present"
            if conn.execute(select(func.count()).select_from(taxonomy_concepts)).scalar_one() == 0:
                report = load_default(conn)
                yield f"taxonomy: loaded the default ({report.occupations} occupations, {report.skills} skills)"
            else:
                yield "taxonomy: present"
    finally:
        engine.dispose()
