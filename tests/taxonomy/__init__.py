"""Tests of core.taxonomy: the ESCO importer, the shipped taxonomy and the search service."""
