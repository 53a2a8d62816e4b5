"""Create the role groups with their model permissions.

Reversing removes the groups; accounts keep their role field and get their group back
when the migration is applied again."""

from django.db import migrations

from sspf.roles import ROLE_PERMISSIONS, sync_role_permissions


def remove_role_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=[str(r) for r in ROLE_PERMISSIONS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sspf", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(sync_role_permissions, remove_role_groups)]
