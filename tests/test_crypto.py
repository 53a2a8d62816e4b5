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


# --- the system check: the key ring opens what is stored ---------------------------------

def _key_check_messages():
    from sspf.crypto import stored_values_open

    return [(e.id, e.msg) for e in stored_values_open(databases=["default"])]


def _assert_no_key_material(text, settings):
    for _key_id, key in [*settings.SSPF_FIELD_KEYS, NEW_KEY, ("test1", TEST1_KEY)]:
        assert base64.b64encode(key).decode() not in text
        assert key.decode("latin-1") not in text


TEST1_KEY = b"test-field-key-of-32-bytes-long!"


@pytest.mark.django_db
def test_key_check_passes_when_the_ring_opens_every_stored_value(settings):
    SecretNote.objects.create(title="Före", body="gammal")
    settings.SSPF_FIELD_KEYS = [NEW_KEY, *settings.SSPF_FIELD_KEYS]
    SecretNote.objects.create(title="Efter", body="ny")
    assert _key_check_messages() == []


@pytest.mark.django_db
def test_key_check_names_a_key_id_dropped_before_rotation(settings):
    SecretNote.objects.create(title="Före", body="gammal")
    settings.SSPF_FIELD_KEYS = [NEW_KEY]  # test1 dropped, rotate_keys never ran
    SecretNote.objects.create(title="Efter", body="ny")
    messages = _key_check_messages()
    assert [m[0] for m in messages] == ["sspf.E001"]
    assert "'test1'" in messages[0][1] and "test_secret_note." in messages[0][1]
    assert "\n" not in messages[0][1]
    _assert_no_key_material(messages[0][1], settings)


@pytest.mark.django_db
def test_key_check_names_a_key_that_is_not_the_one_values_were_sealed_with(settings):
    SecretNote.objects.create(title="Anna", body="hemligt")
    settings.SSPF_FIELD_KEYS = [("test1", b"w" * 32)]  # same id, mistyped key
    messages = _key_check_messages()
    assert [m[0] for m in messages] == ["sspf.E002"]
    assert "'test1'" in messages[0][1]
    assert "Anna" not in messages[0][1] and "hemligt" not in messages[0][1]
    _assert_no_key_material(messages[0][1], settings)


def test_key_check_reads_binary_columns_too(demo, settings):
    from consent.services import document_attach, grant_record

    lead, elsa = demo["koordinator"], demo.cases["Elsa"]
    grant = grant_record(user=lead, case_id=elsa.pk, giver_type="youth",
                         organisations=[lead.organisation_id, demo["polis"].organisation_id],
                         categories=["health"], purpose="Nyckelkontroll", form="written")
    settings.SSPF_FIELD_KEYS = [NEW_KEY, *settings.SSPF_FIELD_KEYS]
    document_attach(user=lead, grant_id=grant.pk, data=b"%PDF-1.7\n" + b"x" * 2000)
    assert _key_check_messages() == []

    settings.SSPF_FIELD_KEYS = [("test1", TEST1_KEY)]
    assert _key_check_messages() == [("sspf.E001", (
        "Stored values (consent_consentdocument.data) are sealed under key id 'k2', "
        "which SSPF_FIELD_KEYS does not hold."))]
    settings.SSPF_FIELD_KEYS = [("k2", b"w" * 32), ("test1", TEST1_KEY)]
    assert [m[0] for m in _key_check_messages()] == ["sspf.E002"]
    assert "'k2'" in _key_check_messages()[0][1]


@pytest.mark.django_db
def test_manage_py_check_stops_on_a_missing_key(settings):
    from django.core.management.base import SystemCheckError

    SecretNote.objects.create(body="gammal")
    settings.SSPF_FIELD_KEYS = [NEW_KEY]
    with pytest.raises(SystemCheckError) as exc:
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    errors = [line for line in str(exc.value).splitlines() if "sspf." in line]
    assert errors == ["?: (sspf.E001) Stored values (test_secret_note.title) are sealed under "
                      "key id 'test1', which SSPF_FIELD_KEYS does not hold."]
    _assert_no_key_material(str(exc.value), settings)


@pytest.mark.django_db
def test_key_check_reads_a_bounded_sample_whatever_the_table_size(settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    SecretNote.objects.create(title="a", body="b", other="c")
    with CaptureQueriesContext(connection) as few:
        assert _key_check_messages() == []
    SecretNote.objects.bulk_create(
        [SecretNote(title="a", body="b", other="c") for _ in range(120)])
    with CaptureQueriesContext(connection) as many:
        assert _key_check_messages() == []
    assert len(many) == len(few)
    sampled = [q["sql"] for q in many if "test_secret_note" in q["sql"] and "LIMIT" in q["sql"]]
    assert len(sampled) == 2 * 3  # two ends of each of the three encrypted columns
