"""Re-encrypt every encrypted column under the newest key of SSPF_FIELD_KEYS.

Run after putting a new key first in the ring; once it reports zero values left under
old keys, the old keys can be removed from the ring. Each model is re-sealed in
batches, one transaction per batch; the command can be interrupted and run again.
Rows are saved one by one through the model, like every other write of a personal
model; the plaintext does not change, so the change history gets no entry. Tables whose
rows the database keeps unchangeable (consent grants and forms) have their guard
lifted for the batch alone, inside its transaction (audit.triggers.lifted). The
rotation itself is recorded as one audit event.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

import audit
from audit import triggers
from audit.models import Action
from sspf.crypto import encrypted_fields, key_ring

BATCH = 500


class Command(BaseCommand):
    help = "Krypterar om alla krypterade kolumner med den nyaste nyckeln."

    def handle(self, *args, **options):
        ring = key_ring()
        total = 0
        for model in apps.get_models():
            fields = encrypted_fields(model)
            if not fields:
                continue
            count = self.rotate_model(model, fields, ring.current_id)
            total += count
            self.stdout.write(f"{model._meta.label}: {count} values re-encrypted")
        with transaction.atomic():
            audit.record(action=Action.UPDATE, object_type="sspf.FieldKeys",
                         object_id=ring.current_id,
                         purpose=f"key rotation: {total} values re-encrypted")
        self.stdout.write(f"Done: {total} values now under key {ring.current_id}.")

    def rotate_model(self, model, fields, current_id: str) -> int:
        table = connection.ops.quote_name(model._meta.db_table)
        pk = connection.ops.quote_name(model._meta.pk.column)
        count = 0
        last_pk = None
        while True:
            with transaction.atomic():
                qs = model._base_manager.order_by("pk")
                if last_pk is not None:
                    qs = qs.filter(pk__gt=last_pk)
                pks = list(qs.values_list("pk", flat=True)[:BATCH])
                if not pks:
                    return count
                stale = self.rows_under_old_keys(table, pk, fields, pks, current_id)
                if stale:
                    with triggers.lifted(connection, model._meta.db_table):
                        for obj in model._base_manager.filter(pk__in=stale):
                            obj.save(update_fields=[f.name for f in fields])
                            count += sum(getattr(obj, f.attname) is not None for f in fields)
                last_pk = pks[-1]

    @staticmethod
    def rows_under_old_keys(table, pk, fields, pks, current_id) -> list:
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        placeholders = ", ".join(["%s"] * len(pks))
        prefix = current_id + "$"
        prefix_bytes = prefix.encode("ascii")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {columns} FROM {table} WHERE {pk} IN ({placeholders})",  # noqa: S608
                pks,
            )
            return [
                row[0]
                for row in cursor.fetchall()
                if any(v is not None and not (
                    v.startswith(prefix) if isinstance(v, str) else
                    bytes(v).startswith(prefix_bytes)) for v in row[1:])
            ]
