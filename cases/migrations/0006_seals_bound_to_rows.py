"""Bind every sealed value of the case records to its row (see sspf.crypto): values
sealed with their table and column alone are sealed again with the row's primary key
too, under the newest key. Reversible: going back re-seals them in the form of before,
which the code of before reads."""

from django.db import migrations

from sspf.crypto import reseal

MODELS = ("Youth", "Guardian", "Entry")


def bind(apps, schema_editor):
    for name in MODELS:
        reseal(apps.get_model("cases", name), using=schema_editor.connection.alias)


def unbind(apps, schema_editor):
    for name in MODELS:
        reseal(apps.get_model("cases", name), using=schema_editor.connection.alias,
               row_bound=False)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0005_statutory_basis_encrypted"),
    ]

    operations = [migrations.RunPython(bind, unbind)]
