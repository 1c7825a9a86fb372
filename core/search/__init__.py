"""Employers' search of published profiles ("Je cherche un candidat"), and its record."""
