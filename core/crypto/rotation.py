"""KEK rotation and retirement.

Rotation: a new key-encryption key version, and every data key rewrapped under it. Sealed data is
not touched. Each data key is rewrapped in a short transaction that updates it only if nobody
changed it meanwhile, so workers keep reading throughout: a row holds either the old wrapping or
the new one, and the provider still knows both versions.

Retirement: once no data key is wrapped under an older version, the provider destroys it. That is
what makes erasure final for every copy of the database (docs/erasure.md): an erased seeker's data
key was only ever wrapped under versions that are now gone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from core.crypto.interfaces import KeyProvider
from core.crypto.sealing import Sealer, WrappedKey
from core.errors import Conflict
from core.models import subjects
from core.unit_of_work import UnitOfWork

BATCH = 200


@dataclass(frozen=True)
class RotationReport:
    version: int
    rewrapped: int


class RetirementRefused(Conflict):
    """A KEK version to retire still wraps a data key: nothing was retired."""


def rotate_keys(work: UnitOfWork, sealer: Sealer, reload_interval: float, batch: int = BATCH) -> RotationReport:
    """Rotate the key provider's KEK and rewrap every data key; ``reload_interval`` is how long
    running workers may take to notice the new version (``KEYRING_RELOAD_INTERVAL``)."""
    version = sealer.provider.rotate()
    rewrapped = _rewrap_all(work, sealer, version, batch)
    # Workers notice the new version within their reload interval; keys they wrapped under the
    # old one meanwhile are caught by a last pass.
    time.sleep(reload_interval)
    rewrapped += _rewrap_all(work, sealer, version, batch)
    return RotationReport(version, rewrapped)


def retire_keys(work: UnitOfWork, provider: KeyProvider, settle: float) -> list[int]:
    """Destroy every KEK version but the active one, provided no data key is wrapped under it any
    more; return the versions destroyed (none when there is only the active one).

    ``settle`` is how long running workers may take to notice the active version
    (``KEYRING_RELOAD_INTERVAL``; 0 right after ``rotate_keys``, which waited already): until then
    one of them may still wrap a new seeker's data key under the previous version. Raises
    RetirementRefused, having changed nothing, while a data key is still wrapped under a version
    to retire (a rotation was interrupted, or has not run).
    """
    time.sleep(settle)
    with work.transaction() as conn:
        _hold_wrapped_keys(conn)
        active = provider.active_version()
        retiring = [v for v in provider.versions() if v != active]
        in_use = _versions_in_use(conn, retiring)
        if in_use:
            raise RetirementRefused(
                f"Des clés de données sont encore enveloppées sous les versions {in_use}: lancez d'abord "
                f"`dossier keys rotate`; rien n'a été détruit. / Data keys are still wrapped under key-encryption "
                f"key versions {in_use}: run `dossier keys rotate` first; nothing was destroyed."
            )
        # NOTE: destroyed while no data key can be written (the lock above), so that none is
        # wrapped under a version between the check and its destruction.
        return provider.retire(retiring) if retiring else []


def _hold_wrapped_keys(conn: Connection) -> None:
    """Keep every writer of data keys out until the transaction ends.

    On SQLite the write transaction already holds the database's only write lock. On PostgreSQL a
    SHARE lock waits for the transactions that changed ``subjects`` and keeps new changes out;
    reads, and the row locks that decisions take, go on.
    """
    if conn.dialect.name != "sqlite":
        conn.execute(text("LOCK TABLE subjects IN SHARE MODE"))


def _versions_in_use(conn: Connection, versions: Sequence[int]) -> list[int]:
    if not versions:
        return []
    return sorted(conn.execute(
        select(subjects.c.kek_version).distinct()
        .where(subjects.c.wrapped_dek.is_not(None), subjects.c.kek_version.in_(list(versions)))
    ).scalars())


def _rewrap_all(work: UnitOfWork, sealer: Sealer, version: int, batch: int) -> int:
    done = 0
    after = ""
    while True:
        with work.transaction() as conn:
            rows = conn.execute(
                select(subjects.c.id, subjects.c.wrapped_dek, subjects.c.kek_version)
                .where(subjects.c.kek_version != version, subjects.c.wrapped_dek.is_not(None), subjects.c.id > after)
                .order_by(subjects.c.id)
                .limit(batch)
            ).all()
            for subject_id, wrapped, old_version in rows:
                new = sealer.rewrap(subject_id, WrappedKey(old_version, wrapped))
                result = conn.execute(
                    update(subjects)
                    .where(subjects.c.id == subject_id, subjects.c.kek_version == old_version, subjects.c.wrapped_dek == wrapped)
                    .values(wrapped_dek=new.wrapped, kek_version=new.kek_version)
                )
                done += result.rowcount
        if len(rows) < batch:
            return done
        after = rows[-1][0]
