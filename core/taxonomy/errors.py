"""Errors of the taxonomy package."""

from __future__ import annotations


class TaxonomyImportError(ValueError):
    """The files to import are unusable; the message names the file (and line or column)."""
