"""Entry.statutory_basis becomes encrypted: it is free text typed by staff, and free
text can name people. The plaintext column is renamed out of the way, the encrypted
column is added under the field's own name (the table and column are bound into each
sealed value, so the encrypted column cannot be renamed afterwards), the values are
sealed across, and the plaintext column is dropped. An empty basis becomes null.
Reversible: going back opens the values into a plaintext column again."""

from django.db import migrations, models

import sspf.crypto


def seal(apps, schema_editor):
    Entry = apps.get_model("cases", "Entry")
    for entry in Entry.objects.exclude(statutory_basis_plain="").only("pk", "statutory_basis_plain"):
        entry.statutory_basis = entry.statutory_basis_plain
        entry.save(update_fields=["statutory_basis"])


def unseal(apps, schema_editor):
    # A historical model is no EncryptedModel, so it leaves what it reads sealed; the
    # field opens it with the row (in the form of before row binding, once 0006 is undone).
    Entry = apps.get_model("cases", "Entry")
    field = Entry._meta.get_field("statutory_basis")
    for entry in Entry.objects.filter(statutory_basis__isnull=False).only("pk", "statutory_basis"):
        entry.statutory_basis_plain = field.open_stored(entry.statutory_basis.stored, row=entry.pk)
        entry.save(update_fields=["statutory_basis_plain"])


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0004_youth_record_per_case"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="entry",
            name="entry_statutory_recipient_needs_basis",
        ),
        migrations.RenameField(
            model_name="entry",
            old_name="statutory_basis",
            new_name="statutory_basis_plain",
        ),
        migrations.AddField(
            model_name="entry",
            name="statutory_basis",
            field=sspf.crypto.EncryptedCharField(blank=True, max_length=200, null=True,
                                                 verbose_name="lagstöd"),
        ),
        migrations.RunPython(seal, unseal),
        migrations.RemoveField(
            model_name="entry",
            name="statutory_basis_plain",
        ),
        migrations.AddConstraint(
            model_name="entry",
            constraint=models.CheckConstraint(
                condition=models.Q(("statutory_recipient__isnull", True),
                                   ("statutory_basis__isnull", False), _connector="OR"),
                name="entry_statutory_recipient_needs_basis",
            ),
        ),
    ]
