"""KEK rotation: a new key-encryption key version, and every data key rewrapped under it.

Sealed data is not touched. Each data key is rewrapped in a short transaction that updates it only
if nobody changed it meanwhile, so workers keep reading throughout: a row holds either the old
wrapping or the new one, and the provider still knows both versions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, update

from core.crypto.sealing import Sealer, WrappedKey
from core.models import subjects
from core.unit_of_work import UnitOfWork

BATCH = 200


@dataclass(frozen=True)
class RotationReport:
    version: int
    rewrapped: int


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
