"""Re-seal the chain links under ``SSPF_AUDIT_KEY`` (HMAC-SHA256 instead of SHA-256).

Each chain is walked from its genesis with the unkeyed hashes it was written with; every
link that still verifies gets its keyed hash. At the first link that does not verify
(an edited, missing or reordered record), re-sealing stops for that chain: the links
from there on keep their old hashes, so ``verify_audit`` reports the chain broken at
that very place instead of the migration covering the damage with a fresh key.

The records are read with the application's models: the hashed columns of a record are
fixed in ``audit.chain.HASHED_FIELDS`` and do not follow the models."""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations

from audit import triggers


def _unkeyed(material: bytes) -> str:
    return hashlib.sha256(material).hexdigest()


def _keyed(material: bytes) -> str:
    return hmac.new(settings.SSPF_AUDIT_KEY, material, hashlib.sha256).hexdigest()


def _reseal(old, new):
    def run(apps, schema_editor):
        from audit.chain import GENESIS, _record_models, record_digest
        from audit.models import ChainLink

        connection = schema_editor.connection
        models = _record_models()
        with triggers.lifted(connection, ChainLink._meta.db_table):
            chains = ChainLink.objects.values_list("chain", flat=True).distinct()
            for chain in sorted(set(chains)):
                old_prev = new_prev = GENESIS
                expected_seq = 1
                changed = []
                for link in ChainLink.objects.filter(chain=chain).order_by("seq").iterator():
                    record = models[link.record_type].objects.filter(pk=link.record_id).first()
                    if record is None or link.seq != expected_seq or link.prev_hash != old_prev:
                        break
                    material = (f"{chain}|{link.seq}|{link.record_type}|{link.record_id}|"
                                f"{record_digest(record)}|").encode("ascii")
                    if link.hash != old(material + old_prev.encode("ascii")):
                        break
                    old_prev = link.hash
                    link.prev_hash = new_prev
                    link.hash = new_prev = new(material + new_prev.encode("ascii"))
                    changed.append(link)
                    expected_seq += 1
                ChainLink.objects.bulk_update(changed, ["prev_hash", "hash"], batch_size=500)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_access_event_flags"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [
        migrations.RunPython(_reseal(_unkeyed, _keyed), _reseal(_keyed, _unkeyed)),
    ]
