"""Production entry point: ``gunicorn -c python:core.server wsgi:app`` (``dossier serve`` does this for you)."""

from core.app import create_app

app = create_app()
