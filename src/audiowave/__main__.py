"""``python -m audiowave`` runs the CLI."""

from audiowave.cli import app

app()
