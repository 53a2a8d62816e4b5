"""Give the role groups their permissions on the case models. Reversing leaves the
groups as they are (the permissions disappear with the models)."""

from django.db import migrations

from sspf.roles import sync_role_permissions


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("sspf", "0003_municipality_areas"),
    ]

    operations = [migrations.RunPython(sync_role_permissions, migrations.RunPython.noop)]
