"""The occupation and skill taxonomy: ESCO-layout import, the shipped default, search.

``esco`` reads the ESCO CSV layout, ``store`` writes it in batches, ``service`` holds the use
cases. Every function works on a connection the caller passes in, inside the caller's transaction.
"""
