"""Re-seal every encrypted column under the newest key of SSPF_FIELD_KEYS, bound to its
rows.

Run after putting a new key first in the ring; once it reports zero values left under
old keys, the old keys can be removed from the ring. Values in the form of before row
binding (table and column only) are left as they are and counted: after the migrations
that bound every stored value there should be none, so any found were written into the
database from elsewhere (an old backup, say, perhaps copied from another row), and
binding them would make them open as the row's own. ``--bind-unbound`` binds them to the
row they are in, for when their origin has been looked into.

The work is ``sspf.crypto.reseal``: on the stored values, in batches, one transaction
per batch, so the command can be interrupted and run again. It does not go through the
models: the plaintext does not change, so the change history gets no entry, and a model
never writes a value it cannot bind. Tables whose rows the database keeps unchangeable
(consent grants and forms) have their guard lifted for a batch's writes alone, inside
its transaction (audit.triggers.lifted). The rotation itself is recorded as one audit
event.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

import audit
from audit import triggers
from audit.models import Action
from sspf.crypto import encrypted_fields, key_ring, reseal


class Command(BaseCommand):
    help = "Krypterar om alla krypterade kolumner med den nyaste nyckeln, bundna till sina rader."

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind-unbound", action="store_true",
            help="also bind values not bound to their rows (from before row binding) to "
                 "the row they are in; without it they are counted and left")

    def handle(self, *args, bind_unbound, **options):
        ring = key_ring()
        total = unbound = 0
        for model in apps.get_models():
            if model._meta.proxy or not encrypted_fields(model):
                continue
            count, were_unbound = reseal(model, lift=triggers.lifted,
                                         bind_unbound=bind_unbound)
            total += count
            unbound += were_unbound
            self.stdout.write(f"{model._meta.label}: {count} values re-encrypted")
            if were_unbound and bind_unbound:
                self.stdout.write(f"{model._meta.label}: {were_unbound} of them were not "
                                  "bound to their rows before")
            elif were_unbound:
                self.stdout.write(
                    f"{model._meta.label}: {were_unbound} value(s) not bound to their rows "
                    "were left as they are (they open nowhere); find out where they came "
                    "from, then run again with --bind-unbound if they belong there")
        purpose = f"key rotation: {total} values re-encrypted"
        if unbound:
            purpose += (f", {unbound} of them not bound to their rows before" if bind_unbound
                        else f", {unbound} value(s) not bound to their rows left")
        with transaction.atomic():
            audit.record(action=Action.UPDATE, object_type="sspf.FieldKeys",
                         object_id=ring.current_id, purpose=purpose)
        self.stdout.write(f"Done: {total} values now under key {ring.current_id}.")
