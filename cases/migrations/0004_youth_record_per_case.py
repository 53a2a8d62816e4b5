"""One youth record per case (see Youth): the open-case rule moves from the youth row
to the person's blind index copied onto the case. Reversible while no person has two
youth records."""

from django.db import migrations, models


def copy_index(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    for case in Case.objects.select_related("youth").only("id", "youth__personnummer_index"):
        Case.objects.filter(pk=case.pk).update(youth_index=case.youth.personnummer_index)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0003_entry_statutory_recipient"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="youth_index",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(copy_index, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="case",
            name="case_one_open_per_youth_and_municipality",
        ),
        migrations.AddConstraint(
            model_name="case",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "open")),
                fields=("municipality", "youth_index"),
                name="case_one_open_per_person_and_municipality",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="youth",
            name="youth_one_per_municipality",
        ),
    ]
