"""Nitride's persistence: models, migrations and the database API."""
