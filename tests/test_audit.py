"""Audit core: events, fail-closed writes, the hash chain, append-only tables,
verification commands, login events, change history."""

import io
import itertools
import re
import threading

import pytest
import time_machine
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import Client, TransactionTestCase, override_settings
from django.urls import reverse
from django.utils import timezone

import audit
from audit import chain, triggers
from audit.context import audit_path
from audit.models import AccessEvent, Action, ChainLink, Outcome
from sspf.roles import Role
from tests.conftest import AuditTablesFlushable, log_in_verified
from tests.crypto_models import SecretNote
from tests.factories import PASSWORD, current_code, make_staff

pytestmark = pytest.mark.django_db


def events(**filters):
    return list(AccessEvent.objects.filter(**filters).order_by("id"))


def run_command(name, *args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


# --- record() ---------------------------------------------------------------------------


def test_record_copies_the_actor_and_holds_only_ids(coordinator):
    event = audit.record(
        action=Action.VIEW, actor=coordinator, object_type="cases.Case", object_id=7,
        case_id=7, youth_id=3, purpose="uppföljning",
    )
    event.refresh_from_db()
    assert (event.actor_id, event.actor_username) == (coordinator.pk, "alice")
    assert event.actor_org_id == coordinator.organisation_id
    assert event.actor_role == Role.COORDINATOR
    assert (event.object_type, event.object_id, event.case_id, event.youth_id) == (
        "cases.Case", "7", 7, 3
    )
    assert event.outcome == Outcome.ALLOWED
    assert ChainLink.objects.filter(record_type="access", record_id=event.pk).count() == 1


def test_purpose_over_500_characters_is_refused_and_nothing_written(coordinator):
    with pytest.raises(ValidationError) as exc:
        audit.record(action=Action.VIEW, actor=coordinator, purpose="x" * 501)
    assert "purpose" in exc.value.message_dict
    assert "500" in exc.value.message_dict["purpose"][0]
    assert AccessEvent.objects.count() == 0


def test_event_from_a_request_carries_request_id_ip_agent_and_path(client, coordinator):
    client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD},
        HTTP_USER_AGENT="Testläsare/1.0", REMOTE_ADDR="10.1.2.3",
    )
    (event,) = events(action=Action.PASSWORD_OK)
    assert event.ip == "10.1.2.3"
    assert event.user_agent == "Testläsare/1.0"
    assert event.path == "/login/"
    assert len(event.request_id) == 32


@override_settings(SSPF_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR")
def test_client_ip_comes_from_the_configured_proxy_header_only(client, coordinator):
    client.post(
        reverse("login"), {"username": "alice", "password": "wrong"},
        REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.10",
    )
    (event,) = events(action=Action.LOGIN_FAILED)
    assert event.ip == "192.0.2.10"


@pytest.mark.parametrize(("remote", "stored"), [
    ("::ffff:10.1.2.3", "10.1.2.3"),  # an IPv4 client on a dual-stack listener
    ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
    ("fe80::1", "fe80::1"),
])
def test_any_client_address_keeps_the_chain_verifiable(client, coordinator, remote, stored):
    client.post(reverse("login"), {"username": "alice", "password": "wrong"},
                REMOTE_ADDR=remote, HTTP_USER_AGENT="Läsare\u00e5/1.0 " + "x" * 400)
    (event,) = events(action=Action.LOGIN_FAILED)
    assert AccessEvent.objects.get(pk=event.pk).ip == stored
    result = chain.verify()
    assert result.ok, result.problem


def test_failed_login_is_not_credited_to_the_person_already_logged_in(client, coordinator):
    log_in_verified(client, coordinator)
    client.post(reverse("login"), {"username": "nobody", "password": "x"})
    (event,) = events(action=Action.LOGIN_FAILED)
    assert event.actor_id is None and event.actor_username == ""


def test_anonymous_attempt_records_what_it_can_without_the_typed_name(client):
    client.post(
        reverse("login"), {"username": "Kalle Anka 19121212-1212", "password": "x"},
        HTTP_USER_AGENT="Agent", REMOTE_ADDR="10.9.9.9",
    )
    (event,) = events(action=Action.LOGIN_FAILED)
    assert event.actor_id is None and event.actor_username == ""
    assert (event.ip, event.user_agent, event.path) == ("10.9.9.9", "Agent", "/login/")
    assert event.outcome == Outcome.DENIED
    dump = " ".join(str(getattr(event, f.attname)) for f in AccessEvent._meta.fields)
    assert "Kalle" not in dump and "1212" not in dump


# --- What an event keeps of the request ------------------------------------------------

TYPED = "19121212-1212 Kalle Anka"  # an identity number and a name typed into an address


def assert_nothing_typed(paths):
    for path in paths:
        assert "1212" not in path and "Kalle" not in path and "Anka" not in path, path


def test_anonymous_request_path_keeps_page_and_ids_but_nothing_typed(client, db):
    # From three addresses: one address's later refusals in a minute are only counted.
    client.get(f"/admin/sspf/user/{TYPED}/change/", REMOTE_ADDR="10.0.0.1")
    client.post(f"/arenden/12/team/{TYPED}/ta-bort/", REMOTE_ADDR="10.0.0.2")
    # matches only the admin's catch-all pattern
    client.get("/admin/Kalle/191212121212/", REMOTE_ADDR="10.0.0.3")
    paths = [e.path for e in events(action=Action.DENIED)]
    assert paths == ["/admin/sspf/user/*/change/", "/arenden/12/team/*/ta-bort/",
                     "/admin/*/*/"]
    assert_nothing_typed(paths)


def test_logged_in_request_path_keeps_page_and_ids_but_nothing_typed(client, coordinator):
    log_in_verified(client, coordinator)
    client.post(f"/arenden/12/team/{TYPED}/ta-bort/", {"version": 1})
    client.get("/arenden/191212121212/")  # an identity number where the case id goes
    denied = events(action=Action.DENIED)
    assert [e.path for e in denied] == ["/arenden/12/team/*/ta-bort/", "/arenden/*/"]
    assert {e.actor_id for e in denied} == {coordinator.pk}
    assert_nothing_typed(e.path for e in events())


IDENTITY_NUMBER = "201103282388"  # a test-series number: its check digit is right


def test_an_identity_number_asked_for_as_an_id_is_stored_masked(client, coordinator,
                                                               api_client):
    log_in_verified(client, coordinator)
    client.get(f"/arenden/{IDENTITY_NUMBER}/")
    client.get(f"/samtycken/{IDENTITY_NUMBER[2:]}/aterkalla/")
    api_client(coordinator).get(f"/api/v1/cases/{IDENTITY_NUMBER}/entries/")
    denied = events(action=Action.DENIED)
    assert len(denied) == 3
    for event in denied:
        assert (event.object_id, event.case_id, event.youth_id) == ("*", None, None)
        assert event.flags == "masked_id"
        dump = " ".join(str(getattr(event, f.attname)) for f in AccessEvent._meta.fields)
        assert IDENTITY_NUMBER[2:] not in dump
    assert chain.verify().ok


def test_an_ordinary_id_is_kept(client, coordinator):
    log_in_verified(client, coordinator)
    client.get("/arenden/1103282389/")  # ten digits with a wrong check digit: an id
    (event,) = events(action=Action.DENIED)
    assert (event.object_id, event.case_id, event.flags) == ("1103282389", 1103282389, None)


@pytest.mark.parametrize(("asked", "stored"), [
    ("/api/v1/cases/42/entries/", "/api/v1/cases/42/entries/"),
    ("/admin/sspf/user/7/change/", "/admin/sspf/user/7/change/"),
    ("/admin/sspf/", "/admin/sspf/"),
    ("/api/v1/cases/42/members/koordinator/", "/api/v1/cases/42/members/*/"),
    (f"/finns-inte/{TYPED}/42/arenden/", "/*/*/42/arenden/"),  # matches no pattern
    ("/arenden/1\x00/\x1b[2J", "/arenden/*/*"),
])
def test_stored_path_is_rebuilt_from_the_url_patterns(asked, stored):
    assert audit_path(asked) == stored


def test_control_characters_in_agent_and_path_are_replaced_and_the_event_written(client,
                                                                                coordinator):
    agent = "Läsare\x00/1.0\x1b[2J\r\nForged: yes"
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"},
                           HTTP_USER_AGENT=agent)
    assert response.status_code == 200
    client.get("/admin/sspf/user/1\x00/change/", HTTP_USER_AGENT=agent)
    failed, denied = events(action=Action.LOGIN_FAILED), events(action=Action.DENIED)
    assert [e.user_agent for e in failed + denied] == [
        "Läsare\ufffd/1.0\ufffd[2J\ufffd\ufffdForged: yes"] * 2
    assert denied[0].path == "/admin/sspf/user/*/change/"
    assert chain.verify().ok


# --- Login events -----------------------------------------------------------------------


def test_login_flow_is_recorded(client, coordinator):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        wrong = f"{(int(current_code(coordinator)) + 1) % 1_000_000:06d}"
        client.post(reverse("otp_verify"), {"code": wrong})
        traveller.shift(2)  # past django-otp's throttle after one failure
        client.post(reverse("otp_verify"), {"code": current_code(coordinator)})
        client.post(reverse("logout"))
    actions = [e.action for e in events(actor_id=coordinator.pk)]
    assert actions == [Action.PASSWORD_OK, Action.OTP_FAILED, Action.LOGIN, Action.LOGOUT]


def test_failed_logins_and_lockout_name_the_account_but_credit_nobody(client, coordinator):
    for _ in range(5):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    failed, lockouts = events(action=Action.LOGIN_FAILED), events(action=Action.LOCKOUT)
    assert len(failed) == 5 and len(lockouts) >= 1
    for event in failed + lockouts:
        assert (event.actor_id, event.actor_username, event.actor_org_id, event.actor_role) == (
            None, "", None, "")
        assert (event.object_type, event.object_id) == ("sspf.User", str(coordinator.pk))
        assert event.outcome == Outcome.DENIED
    assert events(actor_id=coordinator.pk) == []  # nothing shows as alice's own doing


# --- Fail closed ------------------------------------------------------------------------


@override_settings(ROOT_URLCONF="tests.audit_urls")
def test_read_fails_closed_when_the_event_cannot_be_written(coordinator, monkeypatch):
    note = SecretNote.objects.create(body="Känslig anteckning om Elsa")
    client = log_in_verified(Client(raise_request_exception=False), coordinator)
    assert client.get(f"/test-note/{note.pk}/").content.decode() == "Känslig anteckning om Elsa"

    def broken(*args, **kwargs):
        raise DatabaseError("the audit table is unavailable")

    monkeypatch.setattr(AccessEvent, "save", broken)
    response = client.get(f"/test-note/{note.pk}/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Elsa" not in body and "Känslig" not in body
    assert "Tekniskt fel" in body


@override_settings(ROOT_URLCONF="tests.audit_urls")
def test_write_is_rolled_back_when_its_event_cannot_be_written(coordinator, monkeypatch):
    client = log_in_verified(Client(raise_request_exception=False), coordinator)

    def broken(*args, **kwargs):
        raise DatabaseError("no chain")

    monkeypatch.setattr(chain, "append", broken)
    response = client.post("/test-note/", {"body": "ska inte sparas"})
    assert response.status_code == 500
    assert SecretNote.objects.count() == 0


# --- Hash chain and verification --------------------------------------------------------


def make_events(n, actor=None):
    return [audit.record(action=Action.VIEW, actor=actor, object_id=i) for i in range(n)]


def test_chain_links_each_event_to_the_previous(coordinator):
    make_events(5, coordinator)
    links = list(ChainLink.objects.order_by("seq"))
    assert [ln.seq for ln in links] == [1, 2, 3, 4, 5]
    assert links[0].prev_hash == chain.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(links))
    result = chain.verify()
    assert result.ok and result.links == 5


def test_verify_audit_reports_count_when_intact(coordinator):
    make_events(3, coordinator)
    code, out, _err = run_command("verify_audit")
    assert code == 0
    assert "OK: 3 links verified in 1 chain(s), against 0 signed checkpoint(s)." in out


def _drop_one_trigger():
    name = triggers.expected(connection.vendor)[0]
    table = name.rsplit("_", 2)[0] if connection.vendor == "sqlite" else triggers.AUDIT_TABLES[0]
    with connection.cursor() as cursor:  # restored when the test's transaction rolls back
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER {name} ON {table}")
        else:
            cursor.execute(f"DROP TRIGGER {name}")
    return name


def test_an_event_without_flags_hashes_as_before_the_column_existed(coordinator):
    """Events written before ``flags`` existed must still verify: a null optional column
    is left out of the canonical form, a set one is in it."""
    (event,) = make_events(1, coordinator)
    data_without = {f.attname for f in AccessEvent._meta.concrete_fields} - {"flags"}
    import hashlib
    import json

    legacy = json.dumps({name: chain._canonical_value(getattr(event, name))
                         for name in sorted(data_without)},
                        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    assert chain.record_digest(event) == hashlib.sha256(legacy.encode()).hexdigest()
    event.flags = "protected_identity"
    assert chain.record_digest(event) != hashlib.sha256(legacy.encode()).hexdigest()


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_setting_a_flag_afterwards_breaks_the_chain(coordinator):
    (event,) = make_events(1, coordinator)
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_accessevent SET flags = 'x' WHERE id = %s", [event.pk])
    result = chain.verify()
    assert not result.ok
    assert f"access event {event.pk}" in result.problem


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_a_missing_trigger_fails_verification_by_name(coordinator):
    make_events(2, coordinator)
    assert triggers.missing(connection) == []
    name = _drop_one_trigger()
    code, _out, err = run_command("verify_audit")
    assert code == 1
    assert f"append-only trigger(s) missing or altered: {name}" in err
    assert "2 links verified." in err


_PG_FUNCTION_THAT_ALLOWS = """
CREATE OR REPLACE FUNCTION sspf_audit_append_only() RETURNS trigger AS $$
BEGIN
    RETURN NEW;
END;
$$ LANGUAGE plpgsql"""
_PG_TAMPERING = {
    "replica only": (
        ["ALTER TABLE audit_accessevent ENABLE REPLICA TRIGGER audit_accessevent_append_only"],
        ["audit_accessevent_append_only"]),
    "disabled": (["ALTER TABLE audit_chainlink DISABLE TRIGGER audit_chainlink_no_truncate"],
                 ["audit_chainlink_no_truncate"]),
    "function no longer raises": ([_PG_FUNCTION_THAT_ALLOWS],
                                  triggers.AUDIT.expected("postgresql")),
    "other events": (
        ["DROP TRIGGER auditlog_logentry_append_only ON auditlog_logentry",
         "CREATE TRIGGER auditlog_logentry_append_only BEFORE INSERT ON auditlog_logentry "
         "FOR EACH ROW EXECUTE FUNCTION sspf_audit_append_only()"],
        ["auditlog_logentry_append_only"]),
    "a condition": (
        ["DROP TRIGGER audit_accessevent_append_only ON audit_accessevent",
         "CREATE TRIGGER audit_accessevent_append_only BEFORE UPDATE OR DELETE ON "
         "audit_accessevent FOR EACH ROW WHEN (OLD.id < 0) "
         "EXECUTE FUNCTION sspf_audit_append_only()"],
        ["audit_accessevent_append_only"]),
    "always (still refuses)": (
        ["ALTER TABLE audit_accessevent ENABLE ALWAYS TRIGGER audit_accessevent_append_only"],
        []),
}


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
@pytest.mark.parametrize("tampering", _PG_TAMPERING)
def test_a_trigger_that_no_longer_refuses_is_named_on_postgresql(coordinator, tampering):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's trigger modes and functions")
    make_events(1, coordinator)
    statements, named = _PG_TAMPERING[tampering]
    with connection.cursor() as cursor:  # undone when the test's transaction rolls back
        for statement in statements:
            cursor.execute(statement)
    assert triggers.missing(connection) == named
    code, _out, err = run_command("verify_audit")
    assert code == (1 if named else 0)
    assert all(name in err for name in named)


@pytest.mark.parametrize(("statements", "named"), [
    (["DROP TRIGGER audit_chainlink_no_replace"], ["audit_chainlink_no_replace"]),
    (["DROP TRIGGER audit_accessevent_no_update",
      "CREATE TRIGGER audit_accessevent_no_update BEFORE UPDATE ON audit_accessevent "
      "BEGIN SELECT 1; END"], ["audit_accessevent_no_update"]),
], ids=["replace trigger dropped", "trigger rewritten"])
def test_a_trigger_that_no_longer_refuses_is_named_on_sqlite(coordinator, statements, named):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's triggers")
    make_events(1, coordinator)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    assert triggers.missing(connection) == named
    assert run_command("verify_audit")[0] == 1


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_triggers_are_installed_again_after_migrate(coordinator):
    triggers.remove(connection)
    assert len(triggers.missing(connection)) == len(triggers.expected(connection.vendor))
    triggers.reinstall_after_migrate(sender=None, using="default")
    assert triggers.missing(connection) == []


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_edited_row_is_named_by_verification(coordinator):
    created = make_events(4, coordinator)
    triggers.remove(connection)  # restored when the test's transaction rolls back
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_accessevent SET action = 'list' WHERE id = %s", [created[2].pk]
        )
    code, _out, err = run_command("verify_audit")
    assert code == 1
    link = ChainLink.objects.get(record_type="access", record_id=created[2].pk)
    assert f"chain 0, link {link.seq}" in err
    assert f"its record (access event {created[2].pk}) does not match the hash" in err
    assert f"First broken link id: {link.pk}" in err


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_deleted_row_is_named_by_verification(coordinator):
    created = make_events(3, coordinator)
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_accessevent WHERE id = %s", [created[1].pk])
    result = chain.verify()
    assert not result.ok
    assert "link 2" in result.problem and "missing" in result.problem


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_rewritten_link_breaks_the_next_one(coordinator):
    make_events(3, coordinator)
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_chainlink SET hash = %s WHERE seq = 2", ["f" * 64])
    result = chain.verify()
    assert not result.ok
    assert "chain 0, link 2" in result.problem or "chain 0, link 3" in result.problem


def test_event_outside_the_chain_is_found(coordinator):
    make_events(2, coordinator)
    stray = AccessEvent.objects.create(action="view", outcome="allowed")
    result = chain.verify()
    assert not result.ok
    assert str(stray.pk) in result.problem


def test_audit_head_and_expect_head(coordinator):
    make_events(3, coordinator)
    _code, out, _err = run_command("audit_head")
    head = out.split()[0]
    assert head.startswith("0:") and len(head) == 66
    make_events(2, coordinator)  # the log grows after the head was written down
    code, out, _err = run_command("verify_audit", "--expect-head", head)
    assert code == 0, out
    code, _out, err = run_command("verify_audit", "--expect-head", "0:" + "a" * 64)
    assert code == 1
    assert "cut or rewritten" in err


def test_several_chains_are_each_verified(coordinator, settings, monkeypatch):
    settings.SSPF_AUDIT_CHAINS = 3
    picks = iter([0, 1, 2, 0, 1, 2, 2])
    monkeypatch.setattr(chain, "_pick_chain", lambda: next(picks))
    make_events(7, coordinator)
    assert chain.heads().keys() == {0, 1, 2}
    assert chain.heads()[2][0] == 3
    assert chain.verify().ok


@pytest.mark.parametrize("model", [AccessEvent, LogEntry], ids=lambda m: m._meta.label)
def test_the_hashed_fields_are_exactly_the_models_columns(model):
    """The canonical form has a fixed list of fields (see audit/chain.py). A new column,
    or a django-auditlog release that adds or drops one, fails here: decide whether it
    joins the list (and, for events already stored, ``chain_optional_fields``) before
    it reaches a database whose chain would no longer verify."""
    columns = sorted(field.attname for field in model._meta.concrete_fields)
    assert columns == sorted(chain.HASHED_FIELDS[model._meta.label])


def test_a_fork_is_refused_by_the_database(coordinator):
    make_events(1, coordinator)
    other = AccessEvent.objects.create(action="view", outcome="allowed")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChainLink.objects.create(chain=0, seq=1, record_type="access", record_id=other.pk,
                                 prev_hash=chain.GENESIS, hash="0" * 64)


# --- Append-only ------------------------------------------------------------------------


@pytest.mark.usefixtures("database_owner")  # the triggers hold even for the owner
@pytest.mark.parametrize("table", triggers.AUDIT_TABLES)
@pytest.mark.parametrize("statement", ["UPDATE {t} SET id = id", "DELETE FROM {t}"])
def test_raw_update_and_delete_are_refused(coordinator, table, statement):
    make_events(1, coordinator)
    with auditlog_registered():
        SecretNote.objects.create(title="x")
    with pytest.raises(DatabaseError) as exc, transaction.atomic(), connection.cursor() as c:
        c.execute(statement.format(t=table))
    assert "append-only" in str(exc.value)


def _first_row(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY id LIMIT 1")  # noqa: S608
        return [d[0] for d in cursor.description], cursor.fetchone()


def _insert_sql(verb, table, columns, suffix=""):
    values = ", ".join(["%s"] * len(columns))
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({values}){suffix}"


def _refused(statement, params):
    with pytest.raises(DatabaseError) as exc, transaction.atomic(), connection.cursor() as c:
        c.execute(statement, params)
    assert "append-only" in str(exc.value)


@pytest.mark.parametrize("table", triggers.AUDIT_TABLES)
@pytest.mark.parametrize("verb", ["INSERT OR REPLACE", "REPLACE"])
def test_replace_is_refused_on_sqlite(coordinator, table, verb):
    """SQLite's REPLACE deletes the old row without firing the delete trigger."""
    if connection.vendor != "sqlite":
        pytest.skip("REPLACE is SQLite's; an upsert's update on PostgreSQL fires the trigger")
    make_events(1, coordinator)
    with auditlog_registered():
        SecretNote.objects.create(title="x")
    columns, row = _first_row(table)
    _refused(_insert_sql(verb, table, columns), row)
    assert _first_row(table) == (columns, row)


@pytest.mark.usefixtures("database_owner")  # the triggers hold even for the owner
@pytest.mark.parametrize("table", triggers.AUDIT_TABLES)
def test_upsert_is_refused_on_postgresql(coordinator, table):
    if connection.vendor != "postgresql":
        pytest.skip("the upsert of PostgreSQL")
    make_events(1, coordinator)
    with auditlog_registered():
        SecretNote.objects.create(title="x")
    columns, row = _first_row(table)
    _refused(_insert_sql("INSERT", table, columns,
                         " ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id"), row)
    assert _first_row(table) == (columns, row)


@pytest.mark.parametrize("clash", ["position", "record"])
def test_replace_of_a_chain_link_by_a_unique_key_is_refused_on_sqlite(coordinator, clash):
    if connection.vendor != "sqlite":
        pytest.skip("REPLACE is SQLite's")
    make_events(2, coordinator)
    first = ChainLink.objects.order_by("seq").first()
    stray = AccessEvent.objects.create(action="view", outcome="allowed")
    seq, record_id = (first.seq, stray.pk) if clash == "position" else (99, first.record_id)
    _refused("REPLACE INTO audit_chainlink (id, chain, seq, record_type, record_id, prev_hash, "
             "hash) VALUES (%s, %s, %s, %s, %s, %s, %s)",
             [first.pk + 1000, first.chain, seq, "access", record_id, chain.GENESIS, "f" * 64])
    assert ChainLink.objects.filter(pk=first.pk).exists()
    assert chain.verify().links == 2


def test_truncate_is_refused_on_postgresql(coordinator):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    make_events(1, coordinator)
    for table in triggers.AUDIT_TABLES:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as c:
            c.execute(f"TRUNCATE {table} CASCADE")


def test_orm_delete_of_an_event_is_refused(coordinator):
    (event,) = make_events(1, coordinator)
    with pytest.raises(DatabaseError), transaction.atomic():
        event.delete()
    assert AccessEvent.objects.filter(pk=event.pk).exists()


# --- Concurrency (PostgreSQL) -----------------------------------------------------------


class ConcurrentWriterTests(AuditTablesFlushable, TransactionTestCase):
    """Writers on separate connections commit for real, so this is a
    TransactionTestCase."""

    def setUp(self):
        if connection.vendor != "postgresql":
            self.skipTest("concurrent writers are tested on PostgreSQL")

    def run_writers(self, threads=6, per_thread=20):
        barrier = threading.Barrier(threads)
        errors = []

        def writer(n):
            try:
                barrier.wait()
                for i in range(per_thread):
                    with transaction.atomic():
                        audit.record(action=Action.VIEW, object_type="test", object_id=n * 100 + i)
            except Exception as exc:
                errors.append(exc)
            finally:
                connection.close()

        workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        return threads * per_thread

    def assert_unbroken(self, total):
        assert AccessEvent.objects.count() == total
        assert ChainLink.objects.count() == total
        for number in ChainLink.objects.values_list("chain", flat=True).distinct():
            seqs = list(
                ChainLink.objects.filter(chain=number).order_by("seq").values_list("seq", flat=True)
            )
            assert seqs == list(range(1, len(seqs) + 1))  # no gaps, no forks
        result = chain.verify()
        assert result.ok, result.problem
        assert result.links == total

    def test_concurrent_writers_make_one_unbroken_chain(self):
        self.assert_unbroken(self.run_writers())
        assert set(ChainLink.objects.values_list("chain", flat=True)) == {0}

    @override_settings(SSPF_AUDIT_CHAINS=4)
    def test_concurrent_writers_spread_over_several_chains(self):
        self.assert_unbroken(self.run_writers(threads=8))
        assert set(ChainLink.objects.values_list("chain", flat=True)) == {0, 1, 2, 3}


class ChainPerTransactionTests(AuditTablesFlushable, TransactionTestCase):
    """Transactions that commit for real, on either database."""

    def chains_of(self, written):
        return {link.chain for link in ChainLink.objects.filter(
            record_type="access", record_id__in=[e.pk for e in written])}

    @override_settings(SSPF_AUDIT_CHAINS=4)
    def test_a_transaction_keeps_one_chain_and_the_next_takes_another(self):
        per_transaction = []
        for _ in range(4):
            with transaction.atomic():
                written = [audit.record(action=Action.VIEW, object_id=1)]
                with transaction.atomic():  # a savepoint that is kept
                    written.append(audit.record(action=Action.VIEW, object_id=2))
                written += audit.record_many([{"action": Action.LIST, "object_id": 3}] * 2)
            per_transaction.append(self.chains_of(written))
        assert all(len(chains) == 1 for chains in per_transaction)
        assert set().union(*per_transaction) == {0, 1, 2, 3}
        assert chain.verify().ok

    @override_settings(SSPF_AUDIT_CHAINS=4)
    def test_a_rolled_back_first_record_lets_the_transaction_pick_again(self):
        with transaction.atomic():
            with pytest.raises(DatabaseError), transaction.atomic():
                audit.record(action=Action.VIEW)
                rolled_back = ChainLink.objects.latest("id").chain
                raise DatabaseError("the first record's savepoint is rolled back")
            event = audit.record(action=Action.VIEW)
            again = audit.record(action=Action.VIEW)
        assert self.chains_of([event]) == self.chains_of([again]) != {rolled_back}
        assert chain.verify().ok


# --- Nightly verification ---------------------------------------------------------------


def test_nightly_task_records_its_result(coordinator):
    from audit.tasks import verify_chains

    make_events(2, coordinator)
    assert verify_chains.delay().get() is True
    (event,) = events(action=Action.AUDIT_VERIFIED)
    assert event.purpose == "2 links verified"
    assert chain.verify().ok  # the task's own event is chained too


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_nightly_task_records_a_break(coordinator):
    from audit.tasks import verify_chains

    created = make_events(2, coordinator)
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_accessevent SET purpose = 'x' WHERE id = %s", [created[0].pk])
    assert verify_chains.delay().get() is False
    (event,) = events(action=Action.AUDIT_BROKEN)
    assert event.outcome == Outcome.FAILED
    assert "link 1" in event.purpose


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_nightly_task_records_a_missing_trigger(coordinator):
    from audit.tasks import verify_chains

    make_events(1, coordinator)
    name = _drop_one_trigger()
    assert verify_chains.delay().get() is False
    (event,) = events(action=Action.AUDIT_BROKEN)
    assert name in event.purpose


def test_nightly_task_records_that_it_could_not_run(coordinator, monkeypatch):
    from audit.tasks import verify_chains

    def broken(**_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(chain, "verify", broken)
    with pytest.raises(RuntimeError):
        verify_chains.delay()
    (event,) = events(action=Action.AUDIT_BROKEN)
    assert event.outcome == Outcome.FAILED
    assert event.purpose == "verification could not run: RuntimeError"


def test_verification_is_scheduled_nightly():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["verify-audit-chains-nightly"]
    assert entry["task"] == "audit.verify_chains"


# --- Change history ---------------------------------------------------------------------


class auditlog_registered:
    def __enter__(self):
        from audit.changes import register_personal_model

        register_personal_model(SecretNote)

    def __exit__(self, *exc):
        auditlog.unregister(SecretNote)


def test_change_history_masks_encrypted_fields_and_records_the_actor(coordinator):
    from auditlog.context import set_actor

    with auditlog_registered(), set_actor(coordinator):
        note = SecretNote.objects.create(title="Elsa Svensson", body="hemlig text")
        stored_title = SecretNote.objects.get(pk=note.pk).title
        note.body = "ny hemlig text"
        note.save()
    entries = list(LogEntry.objects.get_for_object(note).order_by("id"))
    assert len(entries) == 2
    for entry in entries:
        assert entry.actor_id == coordinator.pk
        dump = f"{entry.changes} {entry.changes_text} {entry.object_repr} {entry.serialized_data}"
        assert "Elsa" not in dump and "hemlig" not in dump
        with connection.cursor() as cursor:
            cursor.execute("SELECT title FROM test_secret_note WHERE id = %s", [note.pk])
            ciphertext = cursor.fetchone()[0]
        assert ciphertext.split("#")[1][:20] not in dump
    assert stored_title == "Elsa Svensson"
    assert entries[1].changes["body"] == ["[krypterat]", "[krypterat]"]
    assert "title" not in entries[1].changes
    assert ChainLink.objects.filter(record_type="change").count() == 2
    assert chain.verify().ok


def _test_number(yymmdd, serial="980"):
    from sspf.personnummer import luhn_ok

    digit = next(d for d in range(10) if luhn_ok(f"{yymmdd}{serial}{d}"))
    return f"20{yymmdd}-{serial}{digit}"


def test_change_history_holds_no_blind_index(demo, client):
    from cases.models import Case, Guardian, Youth

    log_in_verified(client, demo["koordinator"])
    client.post("/arenden/nytt/", {"personnummer": _test_number("120707"),
                                   "first_name": "Ny", "last_name": "Ungdom", "area": "Centrum"})
    case = Case.objects.latest("id")
    client.post(f"/arenden/{case.pk}/vardnadshavare/ny/", {
        "personnummer": demo.pnr["Johan"], "first_name": "Ali", "last_name": "Exempelsson",
        "custodian": "on", "version": case.version})
    case.refresh_from_db()
    client.post(f"/arenden/{case.pk}/andra/", {"area": "Norr", "version": case.version})
    assert Guardian.objects.filter(youth=case.youth).exists()
    indexes = {*Youth.objects.values_list("personnummer_index", flat=True),
               *Guardian.objects.values_list("personnummer_index", flat=True),
               *Case.objects.values_list("youth_index", flat=True)}
    entries = list(LogEntry.objects.all())
    kinds = {(e.content_type.model, e.action) for e in entries}
    assert {("case", LogEntry.Action.CREATE), ("case", LogEntry.Action.UPDATE),
            ("youth", LogEntry.Action.CREATE), ("guardian", LogEntry.Action.CREATE)} <= kinds
    for entry in entries:
        dump = (f"{entry.changes} {entry.changes_text} {entry.serialized_data} "
                f"{entry.object_repr} {entry.additional_data}")
        assert not [index for index in indexes if index in dump], entry.changes
        assert not re.search(r"[0-9a-f]{64}", dump), entry.changes  # nor any other digest


# --- Admin listing ----------------------------------------------------------------------


def test_admin_listing_is_read_only(client, coordinator):
    admin = make_staff("root", role=Role.ADMINISTRATOR, is_superuser=True)
    event = audit.record(action=Action.VIEW, actor=coordinator, object_id=1)
    log_in_verified(client, admin)
    listing = client.get(reverse("admin:audit_accessevent_changelist"))
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    assert client.get(reverse("admin:audit_accessevent_add")).status_code == 403
    assert client.post(
        reverse("admin:audit_accessevent_delete", args=[event.pk]), {"post": "yes"}
    ).status_code == 403
    client.post(reverse("admin:audit_accessevent_change", args=[event.pk]), {"action": "x"})
    event.refresh_from_db()
    assert event.action == Action.VIEW


def test_every_admin_listing_search_and_opened_event_is_recorded(client, coordinator):
    admin = make_staff("root", role=Role.ADMINISTRATOR, is_superuser=True)
    seen = audit.record(action=Action.VIEW, actor=coordinator, object_id=1)
    log_in_verified(client, admin)
    listing = reverse("admin:audit_accessevent_changelist")

    client.get(listing)
    client.get(listing, {"action__exact": "view", "q": "19121212-1212"})
    client.get(reverse("admin:audit_accessevent_change", args=[seen.pk]))

    listed = events(action=Action.LIST, object_type="audit.AccessEvent")
    assert [e.actor_username for e in listed] == ["root", "root"]
    assert listed[0].purpose.startswith("admin listing, ")
    assert listed[1].purpose.endswith("; action__exact=view, search")
    assert_nothing_typed([e.purpose for e in listed])
    (opened,) = events(action=Action.VIEW, object_type="audit.AccessEvent")
    assert (opened.actor_username, opened.object_id) == ("root", str(seen.pk))


def test_a_listing_filtered_through_the_address_names_the_field_not_the_value(
        client, coordinator):
    admin = make_staff("root", role=Role.ADMINISTRATOR, is_superuser=True)
    seen = audit.record(action=Action.VIEW, actor=coordinator, object_id=1, case_id=4711)
    log_in_verified(client, admin)
    listing = reverse("admin:audit_accessevent_changelist")
    assert client.get(listing, {"case_id": 4711, "actor_username": "alice"}).status_code == 200
    client.get(reverse("admin:audit_accessevent_history", args=[seen.pk]))
    filtered = events(action=Action.LIST, object_type="audit.AccessEvent")[-1]
    assert filtered.purpose.endswith("; filter on actor_username, filter on case_id")
    assert "4711" not in filtered.purpose and "alice" not in filtered.purpose
    history = events(action=Action.VIEW, object_type="audit.AccessEvent")[-1]
    assert (history.object_id, history.purpose) == (str(seen.pk), "admin history page")


def test_an_identity_number_in_the_user_agent_is_not_stored(client):
    number = "201103282388"  # a valid-looking number of Skatteverket's test series shape
    Client(REMOTE_ADDR="10.9.9.9", HTTP_USER_AGENT=f"Elsa {number}").get("/arenden/")
    (event,) = events(ip="10.9.9.9")
    assert number not in event.user_agent
    assert event.user_agent == "*"
    assert "masked_id" in event.flags
    Client(REMOTE_ADDR="10.9.9.8", HTTP_USER_AGENT="Mozilla/5.0 (X11) 20100101").get("/arenden/")
    (ordinary,) = events(ip="10.9.9.8")
    assert ordinary.user_agent == "Mozilla/5.0 (X11) 20100101"


def test_staff_without_admin_role_cannot_open_the_listing(client, coordinator):
    log_in_verified(client, coordinator)
    response = client.get(reverse("admin:audit_accessevent_changelist"))
    assert response.status_code == 302
    assert "alice" not in response.content.decode()


@override_settings(SSPF_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR")
def test_change_history_takes_the_address_from_the_configured_header(demo, client):
    omar = demo.cases["Omar"]
    log_in_verified(client, demo["polis"])
    client.post(f"/arenden/{omar.pk}/anteckningar/ny/",
                {"category": "police", "text": "Iakttagelse."},
                HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.44")
    entry = LogEntry.objects.latest("id")
    assert entry.remote_addr == "192.0.2.44"
    assert entry.actor_id == demo["polis"].pk
    event = AccessEvent.objects.filter(action="create", object_type="cases.Entry").latest("id")
    assert entry.cid == event.request_id  # change entry and access event share the request id
