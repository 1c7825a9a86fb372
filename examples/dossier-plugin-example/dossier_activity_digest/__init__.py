"""activity_digest: an example plugin for the dossier service.

It keeps, for each seeker who consents to its purpose ``activity_digest.monthly``, how many
job-search activities (applications, trainings, interviews) they recorded each month. The hooks
are in :mod:`dossier_activity_digest.plugin`, the counting in :mod:`dossier_activity_digest.digest`.

NOTE: this file imports nothing, so that the build reads the version without importing the
service (pyproject.toml, ``[tool.setuptools.dynamic]``).
"""

__version__ = "0.1.0"
