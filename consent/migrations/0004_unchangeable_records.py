"""Refuse edits and deletes of consent grants (but the withdrawal stamp), of their
organisations and of signed forms, in the database (see consent/triggers.py)."""

from django.db import migrations

from consent.triggers import CONSENT


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0003_grant_recording_order"),
        ("audit", "0001_initial"),  # the organisations' trigger reads the access events
    ]

    operations = [migrations.RunPython(CONSENT.install_migration, CONSENT.remove_migration)]
