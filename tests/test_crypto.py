import base64
import io

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection

from sspf.crypto import Binding, DecryptionError, KeyRing, blind_index, key_ring
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
    assert stored.startswith("test1#")
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
    key_id, payload = stored.split("#")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 0x01
    write_raw(note.pk, "body", key_id + "#" + base64.b64encode(bytes(raw)).decode())
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
    token = ring.encrypt("hemligt", binding=Binding("cases_youth", "first_name", 7))
    assert ring.decrypt(token, binding=Binding("cases_youth", "first_name", 7)) == "hemligt"
    with pytest.raises(DecryptionError):
        ring.decrypt(token, binding=Binding("cases_guardian", "first_name", 7))


def test_unknown_key_id_raises():
    token = KeyRing([("old", b"o" * 32)]).encrypt("x", binding=Binding("t", "c", 1))
    with pytest.raises(DecryptionError):
        KeyRing([("new", b"n" * 32)]).decrypt(token, binding=Binding("t", "c", 1))


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
@pytest.mark.usefixtures("database_owner")  # rotate_keys and migrate run as the owner
def test_rotation_reencrypts_under_newest_key_and_old_values_still_open(settings):
    note = SecretNote.objects.create(title="Före", body="rotation")
    old_ring = list(settings.SSPF_FIELD_KEYS)
    settings.SSPF_FIELD_KEYS = [NEW_KEY, *old_ring]
    assert SecretNote.objects.get(pk=note.pk).body == "rotation"  # old key still opens

    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "sspf.SecretNote: 2 values re-encrypted" in out.getvalue()

    assert raw_column(note.pk, "body").startswith("k2#")
    assert raw_column(note.pk, "title").startswith("k2#")
    settings.SSPF_FIELD_KEYS = [NEW_KEY]  # old key removed from the ring
    reread = SecretNote.objects.get(pk=note.pk)
    assert (reread.title, reread.body) == ("Före", "rotation")


@pytest.mark.django_db
@pytest.mark.usefixtures("database_owner")  # rotate_keys and migrate run as the owner
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


# --- each value is bound to its row ------------------------------------------------------

def copy_raw(table, from_pk, to_pk, column, to_column=None):
    """Copy a stored value as someone with write access to the database would."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {to_column or column} = "  # noqa: S608
                       f"(SELECT {column} FROM {table} WHERE id = %s) WHERE id = %s",
                       [from_pk, to_pk])


def seal_unbound(column, plaintext):
    """A value as it was sealed before row binding: table and column only."""
    return key_ring().encrypt(plaintext, binding=Binding("test_secret_note", column))


@pytest.mark.django_db
def test_value_copied_to_another_row_does_not_open():
    elsa = SecretNote.objects.create(body="Elsas anteckning")
    omar = SecretNote.objects.create(body="Omars anteckning")
    copy_raw("test_secret_note", elsa.pk, omar.pk, "body")
    with pytest.raises(DecryptionError) as exc:
        SecretNote.objects.get(pk=omar.pk)
    assert f"row {omar.pk}" in str(exc.value) and "anteckning" not in str(exc.value)
    assert SecretNote.objects.get(pk=elsa.pk).body == "Elsas anteckning"


@pytest.mark.django_db
def test_value_copied_to_another_column_of_another_row_does_not_open():
    elsa = SecretNote.objects.create(body="Elsas anteckning")
    omar = SecretNote.objects.create(other="Omars")
    copy_raw("test_secret_note", elsa.pk, omar.pk, "body", to_column="other")
    with pytest.raises(DecryptionError):
        SecretNote.objects.get(pk=omar.pk)


@pytest.mark.django_db
def test_values_swapped_between_rows_open_in_neither():
    a = SecretNote.objects.create(title="A")
    b = SecretNote.objects.create(title="B")
    stored_a, stored_b = raw_column(a.pk, "title"), raw_column(b.pk, "title")
    write_raw(a.pk, "title", stored_b)
    write_raw(b.pk, "title", stored_a)
    for note in (a, b):
        with pytest.raises(DecryptionError):
            SecretNote.objects.get(pk=note.pk)


def test_youth_name_copied_into_another_case_does_not_open(demo):
    from cases.models import Case

    elsa, omar = demo.cases["Elsa"], demo.cases["Omar"]
    copy_raw("cases_youth", elsa.youth_id, omar.youth_id, "first_name")
    with pytest.raises(DecryptionError):
        Case.objects.select_related("youth").get(pk=omar.pk)
    assert Case.objects.select_related("youth").get(pk=elsa.pk).youth.first_name == "Elsa"


@pytest.mark.django_db
def test_update_of_an_encrypted_field_is_refused():
    from django.db import models, transaction
    from django.db.models import F

    note = SecretNote.objects.create(body="före", other="annat")
    stored = raw_column(note.pk, "body")
    note.body = "efter"
    refused = [
        lambda: SecretNote.objects.filter(pk=note.pk).update(body="efter"),
        lambda: SecretNote.objects.filter(pk=note.pk).update(body=F("other")),
        lambda: SecretNote.objects.bulk_update([note], ["body"]),
        lambda: models.QuerySet(SecretNote).filter(pk=note.pk).update(body="efter"),
        lambda: models.QuerySet(SecretNote).bulk_update([note], ["body"]),
    ]
    for write in refused:
        with pytest.raises(FieldError, match="encrypted"), transaction.atomic():
            write()
    assert raw_column(note.pk, "body") == stored
    SecretNote.objects.filter(pk=note.pk).update(other=None)  # no value, nothing to bind
    assert raw_column(note.pk, "other") is None


@pytest.mark.django_db
def test_bulk_create_binds_each_row_to_its_own_primary_key():
    notes = SecretNote.objects.bulk_create([SecretNote(body=f"nummer {n}") for n in range(3)])
    assert [SecretNote.objects.get(pk=n.pk).body for n in notes] == [
        "nummer 0", "nummer 1", "nummer 2"]
    later = SecretNote.objects.create(body="sedan")  # the sequence went past them
    assert later.pk > max(n.pk for n in notes)
    copy_raw("test_secret_note", notes[0].pk, notes[1].pk, "body")
    with pytest.raises(DecryptionError):
        SecretNote.objects.get(pk=notes[1].pk)


@pytest.mark.django_db
def test_bulk_create_without_primary_keys_outside_the_models_manager_is_refused():
    from django.db import models, transaction

    with pytest.raises(FieldError, match="primary key is not known"), transaction.atomic():
        models.QuerySet(SecretNote).bulk_create([SecretNote(body="utan rad")])
    assert not SecretNote.objects.exists()


@pytest.mark.django_db
def test_values_and_values_list_of_encrypted_fields_are_refused():
    from cases.models import Guardian

    SecretNote.objects.create(body="hemligt")
    for query in (SecretNote.objects.values_list("body", flat=True),
                  SecretNote.objects.values(),
                  Guardian.objects.values_list("youth__first_name")):
        with pytest.raises(FieldError, match="opens only with its row"):
            list(query)
    assert list(SecretNote.objects.values_list("pk", flat=True))  # other columns are fine


def test_check_flags_a_model_with_encrypted_fields_that_is_not_bound():
    from django.db import models
    from django.test.utils import isolate_apps

    from sspf.crypto import EncryptedModel, EncryptedTextField, encrypted_models_bound

    assert encrypted_models_bound() == []  # every model of the project is bound
    with isolate_apps("tests") as isolated:
        class PlainModel(models.Model):
            secret = EncryptedTextField()

            class Meta:
                app_label = "tests"

            def __str__(self) -> str:
                return f"PlainModel {self.pk}"

        class NumberedByHand(EncryptedModel):
            code = models.CharField(primary_key=True, max_length=10)
            secret = EncryptedTextField()

            class Meta:
                app_label = "tests"

        class Bound(EncryptedModel):
            secret = EncryptedTextField()

            class Meta:
                app_label = "tests"

        errors = encrypted_models_bound(app_configs=isolated.get_app_configs())
    assert [(e.id, e.obj) for e in errors] == [("sspf.E004", PlainModel),
                                              ("sspf.E005", NumberedByHand)]
    assert "not an EncryptedModel" in errors[0].msg


# --- values sealed before row binding ----------------------------------------------------

@pytest.mark.django_db
@pytest.mark.usefixtures("database_owner")  # rotate_keys and migrate run as the owner
def test_rotation_binds_values_sealed_before_row_binding(settings):
    note = SecretNote.objects.create(title="Före")
    write_raw(note.pk, "body", seal_unbound("body", "från förr"))
    with pytest.raises(DecryptionError, match="not bound to its row"):
        SecretNote.objects.get(pk=note.pk)
    assert [m[0] for m in _key_check_messages()] == ["sspf.W001"]  # right key, old form

    settings.SSPF_FIELD_KEYS = [NEW_KEY, *settings.SSPF_FIELD_KEYS]
    out = io.StringIO()
    call_command("rotate_keys", stdout=out)  # an unbound value may come from another row
    assert "sspf.SecretNote: 1 value(s) not bound to their rows were left" in out.getvalue()
    with pytest.raises(DecryptionError, match="not bound to its row"):
        SecretNote.objects.get(pk=note.pk)
    out = io.StringIO()
    call_command("rotate_keys", "--bind-unbound", stdout=out)
    assert "sspf.SecretNote: 1 values re-encrypted" in out.getvalue()
    assert "sspf.SecretNote: 1 of them were not bound to their rows before" in out.getvalue()

    assert raw_column(note.pk, "body").startswith("k2#")
    settings.SSPF_FIELD_KEYS = [NEW_KEY]
    assert SecretNote.objects.get(pk=note.pk).body == "från förr"
    assert _key_check_messages() == []


@pytest.mark.django_db
@pytest.mark.usefixtures("database_owner")  # rotate_keys and migrate run as the owner
def test_rotation_under_the_current_key_still_binds_old_values():
    note = SecretNote.objects.create(title="Bunden")
    write_raw(note.pk, "body", seal_unbound("body", "obunden"))
    bound_title = raw_column(note.pk, "title")
    call_command("rotate_keys", "--bind-unbound", stdout=io.StringIO())
    assert raw_column(note.pk, "title") == bound_title  # already in the current form
    assert SecretNote.objects.get(pk=note.pk).body == "obunden"


@pytest.mark.usefixtures("database_owner")  # rotate_keys and migrate run as the owner
def test_binding_migrations_reseal_existing_records_and_go_back(demo):
    import importlib
    from types import SimpleNamespace

    from django.apps import apps

    from audit import triggers
    from cases.models import Youth
    from consent.models import ConsentGrant
    from consent.services import document_attach, grant_record

    lead, elsa = demo["koordinator"], demo.cases["Elsa"]
    grant = grant_record(user=lead, case_id=elsa.pk, giver_type="youth",
                         organisations=[lead.organisation_id, demo["polis"].organisation_id],
                         categories=["health"], purpose="Bindning", form="written")
    document_attach(user=lead, grant_id=grant.pk, data=b"%PDF-1.7\n" + b"x" * 100)
    editor = SimpleNamespace(connection=connection)
    migrations = [importlib.import_module(name) for name in (
        "cases.migrations.0006_seals_bound_to_rows",
        "consent.migrations.0005_seals_bound_to_rows")]

    for migration in migrations:
        migration.unbind(apps, editor)
    with pytest.raises(DecryptionError, match="not bound to its row"):
        Youth.objects.get(pk=elsa.youth_id)
    assert "sspf.W001" in [m[0] for m in _key_check_messages()]

    for migration in migrations:
        migration.bind(apps, editor)
    assert Youth.objects.get(pk=elsa.youth_id).first_name == "Elsa"
    reread = ConsentGrant.objects.select_related("document").get(pk=grant.pk)
    assert reread.purpose == "Bindning" and reread.document.data.startswith(b"%PDF")
    assert _key_check_messages() == []
    assert triggers.missing(connection) == []  # the guards are back


# --- the young person's birth date and sex ------------------------------------------------

def test_youth_birth_date_and_sex_come_from_the_identity_number():
    from datetime import date

    from cases.models import Gender, Youth
    from sspf.personnummer import check_digit

    def number(yyyymmdd, serial):
        return f"{yyyymmdd}-{serial}{check_digit(yyyymmdd[2:] + serial)}"

    girl = Youth(personnummer=number("20080229", "238"))  # second-to-last digit even
    boy = Youth(personnummer=number("20080289", "239"))  # samordningsnummer (day + 60), odd
    assert (girl.birth_date, girl.gender) == (date(2008, 2, 29), Gender.FEMALE)
    assert (boy.birth_date, boy.gender) == (date(2008, 2, 29), Gender.MALE)


def test_youth_birth_date_and_sex_are_not_stored_in_plain_text(demo):
    from datetime import date

    from cases.models import Gender

    for name, sex in (("Elsa", Gender.FEMALE), ("Omar", Gender.MALE)):
        youth = demo.cases[name].youth
        digits = demo.pnr[name].replace("-", "")
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM cases_youth WHERE id = %s", [youth.pk])
            columns = [column[0] for column in cursor.description]
            stored = " ".join(str(value) for value in cursor.fetchone())
        assert "birth_date" not in columns and "gender" not in columns
        for written in (born.isoformat(), digits[:8], digits[2:8], digits):
            assert written not in stored
        assert (youth.birth_date, youth.gender) == (born, sex)
