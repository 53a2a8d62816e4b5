import base64
import io

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection

from sspf.crypto import DecryptionError, KeyRing, blind_index, key_ring
from tests.crypto_models import SecretNote

NEW_KEY = ("k2", b"n" * 32)


def raw_column(pk, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM test_secret_note WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def write_raw(pk, column, value):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE test_secret_note SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


@pytest.mark.django_db
def test_round_trip_stores_no_plaintext():
    note = SecretNote.objects.create(title="Anna Andersson", body="Oro för skolfrånvaro")
    stored = raw_column(note.pk, "body")
    assert "skolfrånvaro" not in stored
    assert stored.startswith("test1$")
    again = SecretNote.objects.get(pk=note.pk)
    assert again.title == "Anna Andersson"
    assert again.body == "Oro för skolfrånvaro"


@pytest.mark.django_db
def test_same_plaintext_encrypts_differently_each_time():
    a = SecretNote.objects.create(title="Samma")
    b = SecretNote.objects.create(title="Samma")
    assert raw_column(a.pk, "title") != raw_column(b.pk, "title")


@pytest.mark.django_db
def test_tampered_value_raises():
    note = SecretNote.objects.create(body="hemligt")
    stored = raw_column(note.pk, "body")
    key_id, payload = stored.split("$")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 0x01
    write_raw(note.pk, "body", key_id + "$" + base64.b64encode(bytes(raw)).decode())
    with pytest.raises(DecryptionError):
        SecretNote.objects.get(pk=note.pk)


@pytest.mark.django_db
def test_value_moved_to_another_column_does_not_open():
    note = SecretNote.objects.create(body="hemligt", other="annat")
    write_raw(note.pk, "other", raw_column(note.pk, "body"))
    with pytest.raises(DecryptionError) as exc:
        SecretNote.objects.get(pk=note.pk)
    assert "hemligt" not in str(exc.value)


def test_value_moved_to_another_table_does_not_open():
    ring = KeyRing([("a", b"a" * 32)])
    token = ring.encrypt("hemligt", context="cases_youth.first_name")
    assert ring.decrypt(token, context="cases_youth.first_name") == "hemligt"
    with pytest.raises(DecryptionError):
        ring.decrypt(token, context="cases_guardian.first_name")


def test_unknown_key_id_raises():
    token = KeyRing([("old", b"o" * 32)]).encrypt("x", context="t.c")
    with pytest.raises(DecryptionError):
        KeyRing([("new", b"n" * 32)]).decrypt(token, context="t.c")


@pytest.mark.django_db
@pytest.mark.parametrize("lookup", ["exact", "icontains", "startswith", "in"])
def test_lookups_on_encrypted_fields_are_refused(lookup):
    value = ["x"] if lookup == "in" else "x"
    with pytest.raises(FieldError, match="encrypted"):
        list(SecretNote.objects.filter(**{f"body__{lookup}": value}))


@pytest.mark.django_db
def test_isnull_lookup_is_allowed():
    SecretNote.objects.create(body=None)
    SecretNote.objects.create(body="text")
    assert SecretNote.objects.filter(body__isnull=True).count() == 1


@pytest.mark.django_db
def test_rotation_reencrypts_under_newest_key_and_old_values_still_open(settings):
    note = SecretNote.objects.create(title="Före", body="rotation")
    old_ring = list(settings.SSPF_FIELD_KEYS)
    settings.SSPF_FIELD_KEYS = [NEW_KEY, *old_ring]
    assert SecretNote.objects.get(pk=note.pk).body == "rotation"  # old key still opens

    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "sspf.SecretNote: 2 values re-encrypted" in out.getvalue()

    assert raw_column(note.pk, "body").startswith("k2$")
    assert raw_column(note.pk, "title").startswith("k2$")
    settings.SSPF_FIELD_KEYS = [NEW_KEY]  # old key removed from the ring
    reread = SecretNote.objects.get(pk=note.pk)
    assert (reread.title, reread.body) == ("Före", "rotation")


@pytest.mark.django_db
def test_rotation_of_case_records_is_audited_once_and_adds_no_change_history(demo, settings):
    from auditlog.models import LogEntry

    from audit import chain
    from audit.models import AccessEvent
    from cases.models import Youth

    history = LogEntry.objects.count()
    settings.SSPF_FIELD_KEYS = [NEW_KEY, *settings.SSPF_FIELD_KEYS]
    call_command("rotate_keys", stdout=io.StringIO())
    settings.SSPF_FIELD_KEYS = [NEW_KEY]

    assert LogEntry.objects.count() == history  # plaintext unchanged: nothing to log
    (event,) = AccessEvent.objects.filter(object_type="sspf.FieldKeys")
    assert event.object_id == "k2" and event.purpose.startswith("key rotation: ")
    assert int(event.purpose.split()[2]) > 0
    assert Youth.objects.get(pk=demo.cases["Elsa"].youth_id).first_name == "Elsa"
    assert chain.verify().ok


def test_blind_index_is_keyed_deterministic_and_purpose_separated(settings):
    a = blind_index("201212121212", purpose="pnr")
    assert a == blind_index("201212121212", purpose="pnr")
    assert len(a) == 64 and "201212121212" not in a
    assert a != blind_index("201212121213", purpose="pnr")
    assert a != blind_index("201212121212", purpose="other")
    settings.SSPF_INDEX_KEY = b"z" * 32
    assert a != blind_index("201212121212", purpose="pnr")


def test_key_ring_cache_follows_settings(settings):
    assert key_ring().current_id == "test1"
    settings.SSPF_FIELD_KEYS = [NEW_KEY]
    assert key_ring().current_id == "k2"
