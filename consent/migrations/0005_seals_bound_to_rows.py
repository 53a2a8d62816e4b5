"""Bind every sealed value of the consent records (purpose, withdrawal reason, signed
form) to its row (see sspf.crypto), under the newest key. Grants and forms are kept
unchangeable by the database, so their guard is lifted for each batch's writes alone
(audit.triggers.lifted, as for key rotation). Reversible: going back re-seals them in
the form of before, which the code of before reads."""

from django.db import migrations

from audit import triggers
from consent.triggers import CONSENT  # noqa: F401  (registers the guard lifted here)
from sspf.crypto import reseal

MODELS = ("ConsentGrant", "ConsentDocument")


def bind(apps, schema_editor):
    for name in MODELS:
        reseal(apps.get_model("consent", name), using=schema_editor.connection.alias,
               lift=triggers.lifted)


def unbind(apps, schema_editor):
    for name in MODELS:
        reseal(apps.get_model("consent", name), using=schema_editor.connection.alias,
               lift=triggers.lifted, row_bound=False)


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0004_unchangeable_records"),
    ]

    operations = [migrations.RunPython(bind, unbind)]
