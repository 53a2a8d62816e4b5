"""Gallring: cases closed longer ago than the municipality's retention period lose every
personal record, keeping their anonymous facts and a verifiable audit trail; the
consent tables let exactly this path delete their rows."""

import io
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

import audit
from audit import chain, triggers
from audit.models import AccessEvent, Action
from cases import services
from cases.models import (
    ActionPlan,
    Assessment,
    Case,
    CaseFacts,
    CaseMember,
    CaseStatusChange,
    Commitment,
    Entry,
    Factor,
    FollowUp,
    Guardian,
    Meeting,
    MeetingParticipant,
    Signal,
    Youth,
)
from cases.tasks import gallra
from consent import services as consent_services
from consent.models import ConsentDocument, ConsentGrant
from tests.conftest import as_database_owner
from tests.factories import add_guardian, open_case
from tests.factories import youth_number as number

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
PDF = b"%PDF-1.7\n" + b"Underskrift " * 50






def full_case(world, *, years_closed: float):
    """A case with a guardian, a signal, an entry, consent with a signed form; closed
    ``years_closed`` years ago (the closing day moved back as time would have)."""
    pnr = number(16, sex="M")
    signal = services.signal_raise(user=world["school"], personnummer=pnr,
                                   concerns=["absence"], text="Oro")
    services.signal_triage(user=world.coordinator, signal_id=signal.pk, action="open_case",
                           first_name="Kim", last_name="Berg")
    case = Signal.objects.get(pk=signal.pk).case
    services.member_add(user=world.coordinator, case_id=case.pk, username=world["school"].username)
    services.guardian_add(user=world.coordinator, case_id=case.pk, personnummer=number(45),
                          first_name="Förälder", last_name="Berg")
    services.entry_add(user=world["school"], case_id=case.pk, category="school", text="Frånvaro")
    grant = consent_services.grant_record(
        user=world.coordinator, case_id=case.pk, giver_type="youth",
        organisations=[world.orgs["school"].pk, world.orgs["coordination"].pk],
        categories=["school"], purpose="Samordning", form="written")
    consent_services.document_attach(user=world.coordinator, grant_id=grant.pk, data=PDF)
    services.assessment_add(user=world["school"], case_id=case.pk, made_on=timezone.localdate(),
                            factors=[{"domain": "school", "kind": "risk", "level": "high",
                                      "note": "Frånvaro"}])
    services.meeting_record(user=world.coordinator, case_id=case.pk,
                            held_at=timezone.now(), participants=[world.coordinator.username],
                            minutes="Möte", guardians_present=list(
                                case.youth.guardians.values_list("pk", flat=True)))
    services.plan_save(user=world.coordinator, case_id=case.pk, goals="Skolgång")
    services.commitment_add(user=world.coordinator, case_id=case.pk,
                            organisation=world.orgs["school"].pk,
                            responsible=world["school"].username, description="Stöd",
                            due_on=timezone.localdate() + timedelta(days=3))
    services.plan_agree(user=world.coordinator, case_id=case.pk)
    services.case_close(user=world.coordinator, case_id=case.pk, reason="goals_met",
                        note="Klart")
    close_long_ago(case, years_closed)
    return Case.objects.get(pk=case.pk)


def close_long_ago(case, years: float) -> None:
    """Move a case's closing day back as time would have: the database lets the
    application set only today (cases/triggers.py), so the owner lifts that guard."""
    closed = timezone.localdate() - timedelta(days=int(365.25 * years))
    with as_database_owner(), transaction.atomic(), triggers.lifted(connection, "cases_case"):
        Case.objects.filter(pk=case.pk).update(closed_at=closed)


def test_a_case_past_retention_is_erased_leaving_its_facts_and_a_verifiable_chain(world):
    case = full_case(world, years_closed=3.2)  # the default period is 3 years
    kept = full_case(world, years_closed=2.5)
    youth_id, facts_id = case.youth_id, case.facts_id

    assert gallra() == {"cases": 1, "signals": 0}

    assert not Case.objects.filter(pk=case.pk).exists()
    assert not Youth.objects.filter(pk=youth_id).exists()
    assert not Guardian.objects.filter(youth_id=youth_id).exists()
    for model in (Entry, Signal, CaseStatusChange, CaseMember, ConsentGrant, Assessment,
                  Meeting, ActionPlan, Commitment, FollowUp):
        assert not model.objects.filter(case_id=case.pk).exists(), model
    assert Factor.objects.count() == MeetingParticipant.objects.count() == 1  # the kept case's
    assert ConsentDocument.objects.count() == 1  # the kept case's
    facts = CaseFacts.objects.get(pk=facts_id)
    assert facts.erased and facts.closure_reason == "goals_met"
    assert facts.signal_source_kinds == ["school"] and facts.concerns == ["absence"]
    assert AccessEvent.objects.filter(action=Action.ERASED, case_id=case.pk).count() == 1
    assert chain.verify().ok
    # the other case is untouched, and a second run finds nothing
    assert Case.objects.filter(pk=kept.pk).exists()
    assert gallra() == {"cases": 0, "signals": 0}


def test_the_dry_run_lists_and_erases_nothing(world):
    case = full_case(world, years_closed=4)
    out = io.StringIO()
    call_command("gallra", "--dry-run", stdout=out)
    assert f"#{case.pk}" in out.getvalue()
    assert "1 ärenden" in out.getvalue()
    assert Case.objects.filter(pk=case.pk).exists()
    assert not AccessEvent.objects.filter(action=Action.ERASED).exists()
    out = io.StringIO()
    call_command("gallra", stdout=out)
    assert "Gallrat: 1 ärenden" in out.getvalue()
    assert not Case.objects.filter(pk=case.pk).exists()


def test_a_dismissed_signal_past_retention_is_erased(world):
    signal = services.signal_raise(user=world["police"], first_name="Alex", last_name="Ek",
                                   concerns=["own_crime"], text="Sågs vid stöld")
    services.signal_triage(user=world.coordinator, signal_id=signal.pk, action="dismiss",
                           reason="Inte aktuellt")
    fresh = services.signal_raise(user=world["police"], first_name="Bo", last_name="Ek",
                                  concerns=["own_crime"], text="x")
    services.signal_triage(user=world.coordinator, signal_id=fresh.pk, action="dismiss",
                           reason="Inte aktuellt")
    Signal.objects.filter(pk=signal.pk).update(
        triaged_at=timezone.now() - timedelta(days=4 * 366))
    assert gallra()["signals"] == 1
    assert list(Signal.objects.values_list("pk", flat=True)) == [fresh.pk]


@pytest.mark.parametrize("closed_years", [None, 1])
def test_the_consent_tables_refuse_any_other_delete(world, closed_years):
    """Without the erasure event, or for a case still inside its period even with one,
    the database refuses to delete consent records."""
    case = open_case(world, personnummer=number(16), team=["school"])
    grant = consent_services.grant_record(
        user=world.coordinator, case_id=case.pk, giver_type="youth",
        organisations=[world.orgs["school"].pk, world.orgs["coordination"].pk],
        categories=["school"], purpose="x",
        form="written")
    consent_services.document_attach(user=world.coordinator, grant_id=grant.pk, data=PDF)
    if closed_years:
        services.case_close(user=world.coordinator, case_id=case.pk, reason="moved")
        close_long_ago(case, closed_years)
        with transaction.atomic():
            audit.record(action=Action.ERASED, actor=None, object_type="cases.Case",
                         object_id=case.pk, case_id=case.pk)
    for rows in (ConsentDocument.objects.filter(grant=grant),
                 ConsentGrant.organisations.through.objects.filter(consentgrant=grant),
                 ConsentGrant.objects.filter(pk=grant.pk)):
        with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
            rows._raw_delete(rows.db)
    assert ConsentGrant.objects.filter(pk=grant.pk).exists()
    assert ConsentDocument.objects.filter(grant=grant).exists()


def test_the_application_cannot_make_a_case_look_old_enough_to_erase(world):
    """What the consent tables' guard relies on is held by the database: a closing day
    is today (or none), and the retention period is 1 to 10 years."""
    from sspf.models import Municipality

    case = open_case(world, personnummer=number(16))
    long_ago = timezone.localdate() - timedelta(days=4 * 366)
    for change in ({"status": "closed", "closed_at": long_ago},):
        with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
            Case.objects.filter(pk=case.pk).update(**change)
    services.case_close(user=world.coordinator, case_id=case.pk, reason="moved")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(closed_at=long_ago)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        Municipality.objects.filter(pk=case.municipality_id).update(retention_years=0)
    assert Case.objects.get(pk=case.pk).closed_at == timezone.localdate()
    assert gallra() == {"cases": 0, "signals": 0}



def raise_signal(user, **kwargs):
    values = {"concerns": ["absence"], "text": "Oro för frånvaro."}
    values.update(kwargs)
    return services.signal_raise(user=user, **values)


def test_a_signal_never_triaged_is_erased_after_the_retention_period(world):
    signal = raise_signal(world["school"], first_name="Alex", last_name="Ek",
                          text="Gammal oro")
    Signal.objects.filter(pk=signal.pk).update(
        created_at=timezone.now() - timedelta(days=5 * 366))
    gallra()
    assert not Signal.objects.filter(pk=signal.pk).exists(), (
        "a five-year-old signal with a name and free text survives every gallring run")


@pytest.fixture
def case(world):
    case = open_case(world, personnummer=number(16), team=["school", "social", "police"])
    add_guardian(world, case)
    return case


def test_gallring_leaves_no_readable_ratings_of_the_erased_case(world, case):
    """Factor (and FollowUp) rows are erased, but their django-auditlog entries keep
    ``domain``/``kind``/``level`` (and ``outcome``) in clear, tied to the assessment and
    through its entry to the case id: the young person's risk profile outlives
    gallring in a hash-chained table nobody deletes from. Only ids should remain."""
    services.assessment_add(user=world["school"], case_id=case.pk, made_on=TODAY, factors=[
        {"domain": "family", "kind": "risk", "level": "high", "note": "Våld i hemmet"}])
    services.case_close(user=world.coordinator, case_id=case.pk, reason="goals_met")
    close_long_ago(case, 4)
    assert gallra()["cases"] == 1
    assert not Factor.objects.exists()
    kept = [entry.changes for entry in LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Factor))]
    assert not any("high" in str(changes) or "family" in str(changes) for changes in kept)
