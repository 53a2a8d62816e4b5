"""The young person's birth date and sex are no longer stored in plain text: Youth reads
them from the encrypted identity number (the date from its digits, the sex from the
second-to-last digit), and nothing queries them in SQL. Reversible: going back fills
the columns from the identity numbers again."""

from django.db import migrations

from sspf.personnummer import parse


def fill_from_number(apps, schema_editor):
    Youth = apps.get_model("cases", "Youth")
    field = Youth._meta.get_field("personnummer")
    for youth in Youth.objects.only("pk", "personnummer"):
        number = parse(field.open_stored(youth.personnummer.stored, row=youth.pk))
        Youth.objects.filter(pk=youth.pk).update(birth_date=number.birth_date,
                                                 gender=number.gender)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0006_seals_bound_to_rows"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, fill_from_number),
        migrations.RemoveField(model_name="youth", name="gender"),
        migrations.RemoveField(model_name="youth", name="birth_date"),
    ]
