"""The audit chain cannot be recomputed from the database alone: keyed link hashes,
signed checkpoints outside the database, and the re-sealing of links made before the
key."""

import base64
import hashlib
import json
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import connection
from django.test import override_settings

from audit import chain, checkpoints, triggers
from audit.models import AccessEvent, Action, ChainLink, Outcome
from sspf.roles import Role
from tests.factories import make_staff
from tests.test_audit import make_events, run_command

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_owner")]


@pytest.fixture
def actor(db):
    return make_staff("karin", role=Role.SOCIAL_WORKER)


def unkeyed(*, chain, seq, record_type, record_id, digest, prev_hash):
    """The link hash as it was before the key: what anyone with the database can compute."""
    material = f"{chain}|{seq}|{record_type}|{record_id}|{digest}|{prev_hash}"
    return hashlib.sha256(material.encode("ascii")).hexdigest()


def recompute_every_link(link_fn):
    """What an attacker does after editing a record: recompute the whole chain (the
    triggers lifted for it, and back at the end, as in the reproduced attack)."""
    models = chain._record_models()
    with triggers.lifted(connection, "audit_chainlink"):
        for number in set(ChainLink.objects.values_list("chain", flat=True)):
            prev = chain.GENESIS
            for link in ChainLink.objects.filter(chain=number).order_by("seq"):
                record = models[link.record_type].objects.get(pk=link.record_id)
                link.prev_hash = prev
                link.hash = prev = link_fn(
                    chain=number, seq=link.seq, record_type=link.record_type,
                    record_id=link.record_id, digest=chain.record_digest(record),
                    prev_hash=link.prev_hash)
                link.save(update_fields=["prev_hash", "hash"])


def edit_actor(event, username="mallory"):
    with triggers.lifted(connection, "audit_accessevent"):
        AccessEvent.objects.filter(pk=event.pk).update(actor_username=username)


# --- keyed link hashes ------------------------------------------------------------------


def test_a_chain_recomputed_without_the_key_is_detected(actor):
    created = make_events(4, actor)
    edit_actor(created[1])
    recompute_every_link(unkeyed)
    assert triggers.missing(connection) == []
    code, _out, err = run_command("verify_audit")
    assert code == 1
    assert "BROKEN: chain 0, link 1: its record (access event" in err


def test_a_chain_recomputed_with_another_key_is_detected(actor):
    created = make_events(3, actor)
    edit_actor(created[0])
    with override_settings(SSPF_AUDIT_KEY=b"k" * 32):
        recompute_every_link(chain.link_hash)
    result = chain.verify()
    assert not result.ok
    assert "link 1" in result.problem


def test_link_hashes_are_hmac_under_the_audit_key(actor):
    (event,) = make_events(1, actor)
    link = ChainLink.objects.get(record_type="access", record_id=event.pk)
    assert link.hash != unkeyed(chain=link.chain, seq=link.seq, record_type="access",
                                record_id=event.pk, digest=chain.record_digest(event),
                                prev_hash=link.prev_hash)
    with override_settings(SSPF_AUDIT_KEY=b"x" * 32):
        assert not chain.verify().ok
    assert chain.verify().ok


# --- signed checkpoints -----------------------------------------------------------------


def checkpoint_lines():
    return checkpoints.path().read_text().splitlines()


def test_a_checkpoint_signs_every_head_and_is_recorded(actor):
    make_events(3, actor)
    cp = checkpoints.write()
    (line,) = checkpoint_lines()
    data = json.loads(line)
    head = ChainLink.objects.get(chain=0, seq=3)  # the checkpoint's own event comes after
    assert data["n"] == 1 and data["prev"] == "0" * 64
    assert data["heads"] == {"0": [head.seq, head.hash]}
    assert data["key"] == checkpoints.signing_key_id()
    event = AccessEvent.objects.get(action=Action.AUDIT_CHECKPOINT)
    assert (event.object_type, event.object_id) == ("audit.Checkpoint", "1")
    assert event.purpose == cp.line_hash == hashlib.sha256(line.encode()).hexdigest()
    code, out, _err = run_command("verify_audit")
    assert code == 0
    assert "against 1 signed checkpoint(s)" in out


def test_the_key_holder_cannot_rewrite_history_older_than_a_checkpoint(actor):
    created = make_events(3, actor)
    checkpoints.write()
    make_events(2, actor)
    edit_actor(created[0])
    recompute_every_link(chain.link_hash)  # with the real key: the chain itself verifies
    assert chain.verify().ok
    code, _out, err = run_command("verify_audit")
    assert code == 1
    assert "BROKEN: checkpoints: chain 0, link 3 differs from checkpoint 1" in err
    assert "history before the checkpoint was rewritten" in err


def test_a_log_cut_below_a_checkpoint_is_detected(actor):
    make_events(3, actor)
    (signed_seq, _hash), = checkpoints.write().heads.values()
    doomed = list(ChainLink.objects.filter(seq__gte=3).values_list("record_id", flat=True))
    with triggers.lifted(connection, "audit_chainlink"):
        ChainLink.objects.filter(seq__gte=3).delete()
    with triggers.lifted(connection, "audit_accessevent"):
        AccessEvent.objects.filter(pk__in=doomed).delete()
    assert chain.verify().ok  # what is left is a valid chain...
    code, _out, err = run_command("verify_audit")
    assert code == 1  # ...but shorter than the checkpoint
    assert f"chain 0, link {signed_seq} of checkpoint 1" in err and "the log was cut" in err


def test_an_altered_checkpoint_does_not_verify(actor):
    make_events(2, actor)
    checkpoints.write()
    data = json.loads(checkpoint_lines()[0])
    data["heads"]["0"][1] = "a" * 64
    checkpoints.path().write_text(json.dumps(data) + "\n")
    code, _out, err = run_command("verify_audit")
    assert code == 1
    assert "checkpoint 1" in err and "the signature does not verify" in err


def test_a_checkpoint_taken_out_of_the_file_is_detected(actor):
    for _ in range(3):
        make_events(1, actor)
        checkpoints.write()
    first, _second, third = checkpoint_lines()
    checkpoints.path().write_text(f"{first}\n{third}\n")
    assert "checkpoint 2 is missing" in run_command("verify_audit")[2]
    checkpoints.path().write_text(f"{first}\n")  # the last ones cut: the log still knows them
    err = run_command("verify_audit")[2]
    assert "checkpoint 2, recorded in the log, is not in the checkpoint file" in err


def test_a_checkpoint_signed_with_an_unknown_key_is_refused_until_it_is_known(actor):
    make_events(1, actor)
    other = Ed25519PrivateKey.generate()
    raw_private = other.private_bytes_raw()
    raw_public = other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with override_settings(SSPF_AUDIT_SIGNING_KEY=raw_private):
        checkpoints.write()
    code, _out, err = run_command("verify_audit")
    assert code == 1
    assert f"signed with an unknown key {checkpoints.key_id(raw_public)}" in err
    with override_settings(SSPF_AUDIT_VERIFY_KEYS=[raw_public]):
        assert run_command("verify_audit")[0] == 0


def test_a_broken_chain_is_never_signed(actor):
    created = make_events(2, actor)
    checkpoints.write()
    make_events(2, actor)
    edit_actor(created[0])  # older than the checkpoint: found by the checkpoint
    make_events(1, actor)
    with triggers.lifted(connection, "audit_accessevent"):
        AccessEvent.objects.filter(pk=AccessEvent.objects.latest("pk").pk).update(
            actor_username="mallory")  # newer: found by the walk since the checkpoint
    before = checkpoint_lines()
    with pytest.raises(checkpoints.CheckpointError, match="the chain is broken"):
        checkpoints.write()
    assert checkpoint_lines() == before
    failed = AccessEvent.objects.filter(action=Action.AUDIT_BROKEN).get()
    assert failed.outcome == Outcome.FAILED
    assert failed.purpose.startswith("no checkpoint signed: chain 0, link")


def test_an_unwritable_folder_is_a_clear_error(actor, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (override_settings(SSPF_AUDIT_CHECKPOINT_DIR=blocker / "below"),
          pytest.raises(checkpoints.CheckpointError, match="cannot be written")):
        checkpoints.write()


def test_verify_audit_writes_a_checkpoint_only_when_all_is_well(actor):
    created = make_events(2, actor)
    code, out, _err = run_command("verify_audit", "--checkpoint")
    assert code == 0 and "Checkpoint 1 written" in out
    edit_actor(created[0])
    code, out, _err = run_command("verify_audit", "--checkpoint")
    assert code == 1 and "written" not in out
    assert len(checkpoint_lines()) == 1


def test_the_periodic_task_writes_a_checkpoint(actor, settings):
    from audit.tasks import write_checkpoint

    make_events(1, actor)
    assert write_checkpoint.delay().get() == 1
    assert write_checkpoint.delay().get() == 2
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values()
                 if e["task"] == "audit.write_checkpoint")
    assert entry["schedule"].total_seconds() == settings.SSPF_AUDIT_CHECKPOINT_MINUTES * 60


def test_audit_head_prints_the_public_key(actor, settings):
    code, out, _err = run_command("audit_head", "--public-key")
    assert code == 0
    public = Ed25519PrivateKey.from_private_bytes(settings.SSPF_AUDIT_SIGNING_KEY).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert out.split()[0] == base64.b64encode(raw).decode()
    assert checkpoints.key_id(raw) in out


# --- what the database alone can do to the newest events ---------------------------


def cut_chain_from(seq, *, number=0):
    """What someone holding only the database does to drop the newest events of a chain:
    delete their links and records (no key needed)."""
    links = ChainLink.objects.filter(chain=number, seq__gte=seq)
    doomed = list(links.filter(record_type="access").values_list("record_id", flat=True))
    with triggers.lifted(connection, "audit_chainlink"):
        links.delete()
    with triggers.lifted(connection, "audit_accessevent"):
        AccessEvent.objects.filter(pk__in=doomed).delete()



def test_nightly_verification_detects_a_cut_below_a_checkpoint(actor):
    """The nightly task runs the same verification as verify_audit, checkpoints included."""
    from audit.tasks import verify_chains

    make_events(3, actor)
    checkpoints.write()
    cut_chain_from(3)
    code, _out, err = run_command("verify_audit")
    assert code == 1 and "the log was cut" in err
    assert verify_chains() is False  # the nightly task checks the checkpoints too
    assert not AccessEvent.objects.filter(action=Action.AUDIT_VERIFIED).exists()
    broken = AccessEvent.objects.get(action=Action.AUDIT_BROKEN)
    assert "checkpoints: " in broken.purpose and "the log was cut" in broken.purpose


def test_dropping_the_newest_events_without_any_key_is_detected(actor):
    """Deleting the tail of a chain with the database alone, the last checkpoint's own
    event included, leaves a valid chain; the file still names that checkpoint."""
    make_events(3, actor)
    checkpoints.write()  # signs seq 3; its audit_checkpoint event is seq 4
    make_events(3, actor)  # seq 5..7: e.g. an insider's reads of a case
    cut_chain_from(4)
    assert not AccessEvent.objects.filter(action=Action.AUDIT_CHECKPOINT).exists()
    code, _out, err = run_command("verify_audit")
    assert code == 1
    assert "checkpoint 1" in err and "not in the log: the log's newest events were cut" in err


def test_a_checkpoint_never_signs_a_link_it_did_not_verify(actor, monkeypatch):
    """The heads are read before the walk and the walk stops there: a link committed
    meanwhile (here a forged one) is not signed unverified."""
    make_events(2, actor)
    real_verify = chain.verify
    forged = {}

    def verify_then_a_concurrent_insert(**kwargs):
        result = real_verify(**kwargs)
        last = ChainLink.objects.filter(chain=0).order_by("-seq").first()
        event = AccessEvent.objects.create(action=Action.VIEW, object_id="999")
        forged["link"] = ChainLink.objects.create(
            chain=0, seq=last.seq + 1, record_type="access", record_id=event.pk,
            prev_hash=last.hash, hash="f" * 64)
        return result

    monkeypatch.setattr(chain, "verify", verify_then_a_concurrent_insert)
    try:
        cp = checkpoints.write()
    except checkpoints.CheckpointError:
        cp = None
    monkeypatch.setattr(chain, "verify", real_verify)
    assert not chain.verify().ok  # the forged link is broken
    signed = set() if cp is None else {h for _s, h in cp.heads.values()}
    assert forged["link"].hash not in signed, "a broken link was signed into a checkpoint"



# --- links made before the key ----------------------------------------------------------


def _reseal():
    import importlib

    module = importlib.import_module("audit.migrations.0004_keyed_link_hashes")
    editor = SimpleNamespace(connection=connection)  # all the migration uses of it
    module._reseal(module._unkeyed, module._keyed)(None, editor)


def test_links_made_before_the_key_are_resealed(actor):
    make_events(3, actor)
    recompute_every_link(unkeyed)  # the chain as version 0003 wrote it
    assert not chain.verify().ok
    _reseal()
    assert chain.verify().ok


def test_resealing_stops_where_the_unkeyed_chain_was_broken(actor):
    created = make_events(4, actor)
    recompute_every_link(unkeyed)
    edit_actor(created[2])  # tampered with before the upgrade
    _reseal()
    result = chain.verify()
    assert not result.ok
    assert result.problem.startswith("chain 0, link 3:")


def test_checking_many_checkpoints_takes_a_query_per_chain_not_per_checkpoint(
        actor, django_assert_max_num_queries):
    for _ in range(6):
        make_events(1, actor)
        checkpoints.write()
    found, problem = checkpoints.load()
    assert problem == "" and len(found) == 6
    with django_assert_max_num_queries(2):  # the signed heads of chain 0, the recorded events
        assert checkpoints.check(found) == ""
