"""Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) on the audit tables."""

from django.db import migrations

from audit.triggers import install_migration, remove_migration


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(install_migration, remove_migration)]
