"""Consent decides what crosses organisation lines: pages, API, at once; history and
audit; bad input refused with nothing stored."""

import re
from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AccessEvent
from cases import services as case_services
from consent import services
from consent.models import ConsentGrant
from tests.conftest import log_in_verified, personal_strings
from tests.test_cases_api import LIST_QUERY_BUDGET

pytestmark = pytest.mark.django_db

SCHOOL_ENTRY = "Hög frånvaro sedan höstlovet"


def days_from_today(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


def orgs(demo, *usernames):
    return [demo[u].organisation_id for u in usernames]


def give_all(demo, case, *, categories=("school",), org_users=("skolkurator",
                                                                 "socialsekreterare")):
    """The young person (15) and both custodians consent to the same scope."""
    grants = []
    lead = demo["koordinator"]
    guardians = list(case.youth.guardians.order_by("id"))
    for giver_type, guardian in [("youth", None)] + [("guardian", g) for g in guardians]:
        grants.append(services.grant_record(
            user=lead, case_id=case.pk, giver_type=giver_type,
            guardian_id=guardian.pk if guardian else None,
            organisations=orgs(demo, *org_users), categories=list(categories),
            purpose="Samordnade insatser kring skolfrånvaro", form="written"))
    return grants


def social_sees(api_client, demo, case):
    response = api_client(demo["socialsekreterare"]).get(f"/api/v1/cases/{case.pk}/entries/")
    assert response.status_code == 200
    return SCHOOL_ENTRY in response.content.decode()


def test_school_entry_crosses_after_consent_and_stops_after_one_withdrawal(
        demo, api_client, client):
    elsa = demo.cases["Elsa"]
    assert not social_sees(api_client, demo, elsa)
    grants = give_all(demo, elsa)
    assert social_sees(api_client, demo, elsa)
    log_in_verified(client, demo["socialsekreterare"])
    assert SCHOOL_ENTRY in client.get(f"/arenden/{elsa.pk}/").content.decode()

    services.grant_withdraw(user=demo["koordinator"], grant_id=grants[1].pk,
                            reason="Mamma återkallar per telefon")
    assert not social_sees(api_client, demo, elsa)
    assert SCHOOL_ENTRY not in client.get(f"/arenden/{elsa.pk}/").content.decode()


def test_consent_does_not_reach_an_organisation_outside_its_scope(demo, api_client):
    elsa = demo.cases["Elsa"]
    give_all(demo, elsa)  # school and social services only
    body = api_client(demo["fritidsledare"]).get(
        f"/api/v1/cases/{elsa.pk}/entries/").content.decode()
    assert SCHOOL_ENTRY not in body


def test_consent_for_one_category_does_not_open_another(demo, api_client):
    elsa = demo.cases["Elsa"]
    give_all(demo, elsa, categories=("social",), org_users=("skolkurator", "fritidsledare"))
    body = api_client(demo["fritidsledare"]).get(
        f"/api/v1/cases/{elsa.pk}/entries/").content.decode()
    assert SCHOOL_ENTRY not in body


def test_missing_giver_means_nothing_crosses(demo, api_client):
    elsa = demo.cases["Elsa"]
    lead = demo["koordinator"]
    for guardian in elsa.youth.guardians.all():  # the 15-year-old herself has not consented
        services.grant_record(user=lead, case_id=elsa.pk, giver_type="guardian",
                              guardian_id=guardian.pk,
                              organisations=orgs(demo, "skolkurator", "socialsekreterare"),
                              categories=["school"], purpose="Syfte", form="written")
    assert not social_sees(api_client, demo, elsa)


def test_expiry_takes_effect_on_the_day_after_valid_until(demo, api_client):
    elsa = demo.cases["Elsa"]
    give_all(demo, elsa)
    last_day = ConsentGrant.objects.filter(case=elsa).first().valid_until
    assert last_day == services.add_months(timezone.localdate(), 12)
    noon = timezone.make_aware(timezone.datetime.combine(last_day, timezone.datetime.min.time())
                               ) + timedelta(hours=12)
    with time_machine.travel(noon):
        assert social_sees(api_client, demo, elsa)
    with time_machine.travel(noon + timedelta(days=1)):
        assert not social_sees(api_client, demo, elsa)


def test_consent_events_are_audited(demo):
    elsa = demo.cases["Elsa"]
    grants = give_all(demo, elsa)
    services.grant_withdraw(user=demo["koordinator"], grant_id=grants[0].pk, reason="Ångrar sig")
    given = AccessEvent.objects.filter(action="consent_given", case_id=elsa.pk)
    withdrawn = AccessEvent.objects.filter(action="consent_withdrawn", case_id=elsa.pk)
    assert {e.object_id for e in given} == {str(g.pk) for g in grants}
    assert [e.object_id for e in withdrawn] == [str(grants[0].pk)]
    assert all(e.youth_id == elsa.youth_id for e in [*given, *withdrawn])


def test_api_lists_grants_and_status(demo, api_client):
    elsa = demo.cases["Elsa"]
    grants = give_all(demo, elsa)
    api = api_client(demo["skolkurator"])
    listed = api.get(f"/api/v1/cases/{elsa.pk}/consents/").json()
    assert {g["id"] for g in listed} == {g.pk for g in grants}
    assert all(g["active"] for g in listed)
    mum = next(g for g in listed if g["giver"]["type"] == "guardian")
    assert set(mum) == {"id", "giver", "organisations", "categories", "purpose", "form",
                        "given_on", "valid_until", "withdrawn_at", "active"}
    status = api.get(f"/api/v1/cases/{elsa.pk}/consent-status/").json()
    assert status["effective"] == {
        "organisations": sorted(orgs(demo, "skolkurator", "socialsekreterare")),
        "categories": ["school"]}
    assert [g["type"] for g in status["required_givers"]] == ["youth", "guardian", "guardian"]


def test_api_records_and_withdraws(demo, api_client):
    elsa = demo.cases["Elsa"]
    api = api_client(demo["koordinator"])
    guardian = elsa.youth.guardians.first()
    given_on = days_from_today(-21)
    response = api.post(f"/api/v1/cases/{elsa.pk}/consents/", {
        "giver": {"type": "guardian", "id": guardian.pk},
        "organisations": orgs(demo, "skolkurator", "polis"), "categories": ["school"],
        "purpose": "Syfte", "form": "oral", "given_on": given_on.isoformat(),
    }, format="json")
    assert response.status_code == 201, response.content
    grant_id = response.json()["id"]
    assert response.json()["valid_until"] == services.add_months(given_on, 12).isoformat()
    withdrawn = api.post(f"/api/v1/consents/{grant_id}/withdraw/", {"reason": "Ångrat"},
                         format="json")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["withdrawn_at"] is not None
    again = api.post(f"/api/v1/consents/{grant_id}/withdraw/", {"reason": "Igen"},
                     format="json")
    assert again.status_code == 400 and "redan återkallat" in again.json()["grant"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"organisations": "grannby"}, "organisations"),
        ({"organisations": "one"}, "organisations"),
        ({"categories": ["school", "weather"]}, "categories"),
        ({"giver": {"type": "guardian", "id": "other-youth"}}, "giver"),
        ({"given_on": -12, "valid_until": -21}, "valid_until"),
        ({"given_on": -30, "valid_until": -1}, "valid_until"),  # already over when recorded
        ({"given_on": 1}, "given_on"),
        ({"given_on": "9999-12-31"}, "given_on"),
        ({"given_on": "9999-12-31", "valid_until": "9999-12-31"}, "given_on"),
        # A guardian's: the young person's own would be refused as given before 15.
        ({"giver": "mum", "given_on": "0001-01-01"}, "given_on"),
        ({"giver": "mum", "given_on": -400}, "given_on"),  # older than the longest validity
        ({"valid_until": "9999-12-31"}, "valid_until"),
        ({"valid_until": "0001-01-01"}, "valid_until"),
        ({"organisations": "too-large"}, "organisations"),
        ({"organisations": "zero"}, "organisations"),
        ({"organisations": "not-partners"}, "organisations"),
        ({"giver": {"type": "guardian", "id": 2**70}}, "giver"),
        ({"purpose": "x" * 1001}, "purpose"),
    ],
)
def test_bad_grants_are_refused_and_nothing_is_stored(demo, api_client, change, field):
    elsa, omar = demo.cases["Elsa"], demo.cases["Omar"]
    body = {"giver": {"type": "youth"}, "organisations": orgs(demo, "skolkurator", "polis"),
            "categories": ["school"], "purpose": "Syfte", "form": "written"}
    body.update(change)
    if body["organisations"] == "grannby":
        body["organisations"] = orgs(demo, "skolkurator", "koordinator2")
    if body["organisations"] == "one":
        body["organisations"] = orgs(demo, "skolkurator") * 2
    if body["organisations"] == "too-large":
        body["organisations"] = [*orgs(demo, "skolkurator"), 2**70]
    if body["organisations"] == "zero":
        body["organisations"] = [*orgs(demo, "skolkurator"), 0]
    if body["organisations"] == "not-partners":
        body["organisations"] = orgs(demo, "skolkurator", "revisor", "analytiker")
    if body["giver"] == "mum":
        body["giver"] = {"type": "guardian", "id": elsa.youth.guardians.order_by("id")[0].pk}
    if body["giver"].get("id") == "other-youth":
        body["giver"]["id"] = omar.youth.guardians.first().pk
    for key in ("given_on", "valid_until"):
        if isinstance(body.get(key), int):
            body[key] = days_from_today(body[key]).isoformat()
    response = api_client(demo["koordinator"]).post(f"/api/v1/cases/{elsa.pk}/consents/",
                                                     body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not ConsentGrant.objects.exists()


@pytest.mark.parametrize("username", ["skolkurator", "socialsekreterare"])
def test_only_the_coordinator_records_consent_by_default(demo, api_client, username):
    elsa = demo.cases["Elsa"]
    response = api_client(demo[username]).post(
        f"/api/v1/cases/{elsa.pk}/consents/", {}, format="json")
    assert response.status_code == 403


def test_social_worker_records_consent_where_the_municipality_allows(demo, api_client):
    elsa = demo.cases["Elsa"]
    municipality = elsa.municipality
    municipality.social_worker_records_consent = True
    municipality.save()
    response = api_client(demo["socialsekreterare"]).post(
        f"/api/v1/cases/{elsa.pk}/consents/",
        {"giver": {"type": "youth"}, "organisations": orgs(demo, "skolkurator", "polis"),
         "categories": ["basic"], "purpose": "Syfte", "form": "written"}, format="json")
    assert response.status_code == 201


def test_consent_pages_show_history_and_withdraw(demo, client):
    elsa = demo.cases["Elsa"]
    grants = give_all(demo, elsa)
    log_in_verified(client, demo["koordinator"])
    page = client.get(f"/arenden/{elsa.pk}/samtycken/").content.decode()
    assert "Samordnade insatser kring skolfrånvaro" in page
    assert "Maria Demosson" in page and "Samtycke saknas" not in page
    response = client.post(f"/samtycken/{grants[2].pk}/aterkalla/",
                           {"reason": "Pappa vill inte längre"})
    assert response.status_code == 302
    page = client.get(f"/arenden/{elsa.pk}/samtycken/").content.decode()
    assert "Pappa vill inte längre" in page
    assert "Samtycke har återkallats" in page


def test_recording_through_the_page(demo, client):
    elsa = demo.cases["Elsa"]
    log_in_verified(client, demo["koordinator"])
    form = client.get(f"/arenden/{elsa.pk}/samtycken/nytt/")
    assert form.status_code == 200
    response = client.post(f"/arenden/{elsa.pk}/samtycken/nytt/", {
        "giver": "youth", "organisations": [str(o) for o in orgs(demo, "skolkurator",
                                                                   "fritidsledare")],
        "categories": ["leisure"], "purpose": "Fritidsaktiviteter", "form": "written",
        "given_on": days_from_today(-2).isoformat(),
    })
    assert response.status_code == 302
    grant = ConsentGrant.objects.get()
    assert grant.given_on == days_from_today(-2)
    assert grant.recorded_by == demo["koordinator"]


def test_withdrawal_of_an_invisible_grant_answers_404(demo, api_client):
    elsa = demo.cases["Elsa"]
    grants = give_all(demo, elsa)
    response = api_client(demo["rektor2"]).post(f"/api/v1/consents/{grants[0].pk}/withdraw/",
                                                {"reason": "x"}, format="json")
    missing = api_client(demo["rektor2"]).post("/api/v1/consents/999999/withdraw/",
                                               {"reason": "x"}, format="json")
    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json()
    assert ConsentGrant.objects.filter(withdrawn_at__isnull=False).count() == 0


def test_cases_without_consent_are_flagged_in_lists_and_on_the_page(demo, client):
    elsa, omar = demo.cases["Elsa"], demo.cases["Omar"]
    grants = give_all(demo, elsa)
    log_in_verified(client, demo["koordinator"])
    listing = client.get("/arenden/").content.decode()
    row = {name: listing.split(name)[1].split("</tr>")[0] for name in ("Elsa", "Omar")}
    assert "Samtycke saknas" in row["Omar"]
    assert "Samtycke" not in row["Elsa"]
    services.grant_withdraw(user=demo["koordinator"], grant_id=grants[0].pk, reason="Nej")
    assert "Samtycke har återkallats" in client.get(f"/arenden/{elsa.pk}/").content.decode()
    assert "Samtycke saknas" in client.get(f"/arenden/{omar.pk}/").content.decode()


def test_list_flags_take_a_fixed_number_of_queries(demo, api_client,
                                                   django_assert_max_num_queries):
    give_all(demo, demo.cases["Elsa"])
    api = api_client(demo["koordinator"])
    api.get("/api/v1/me/")  # the token's first-use update is out of the way
    with CaptureQueriesContext(connection) as one:
        assert api.get("/api/v1/cases/").status_code == 200
    give_all(demo, demo.cases["Omar"], org_users=("polis", "socialsekreterare"))
    with django_assert_max_num_queries(LIST_QUERY_BUDGET), \
            CaptureQueriesContext(connection) as two:
        assert api.get("/api/v1/cases/").status_code == 200
    assert len(two.captured_queries) == len(one.captured_queries)


# --- reminders and the start page -------------------------------------------------------


def test_daily_reminders_are_sent_once_per_window_without_personal_data(demo, mailoutbox,
                                                                         settings):
    from consent.tasks import remind_expiring
    from sspf.models import Notification

    settings.SSPF_NOTIFY_BY_EMAIL = True
    lead = demo["koordinator"]
    lead.email = "koordinator@kommun.example"
    lead.save()
    elsa = demo.cases["Elsa"]
    give_all(demo, elsa)
    soon = timezone.localdate() + timedelta(days=20)
    # A newer grant of the young person that ends in 20 days supersedes theirs.
    services.grant_record(user=lead, case_id=elsa.pk, giver_type="youth",
                          organisations=orgs(demo, "skolkurator", "socialsekreterare"),
                          categories=["school"], purpose="Kort", form="written",
                          valid_until=soon)
    assert remind_expiring.delay().get() == 1
    assert remind_expiring.delay().get() == 0  # idempotent
    note = Notification.objects.get(user=lead)
    assert f"ärende #{elsa.pk}" in note.text and "30 dagar" in note.text
    assert "Elsa" not in note.text
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert "Elsa" not in mail.body and f"#{elsa.pk}" not in mail.body
    assert "1 ny notis" in mail.body  # how many, nothing about what
    assert "Demosson" not in mail.subject + mail.body

    with time_machine.travel(timezone.now() + timedelta(days=14)):
        assert remind_expiring.delay().get() == 1  # now within 7 days
    with time_machine.travel(timezone.now() + timedelta(days=21)):
        assert remind_expiring.delay().get() == 1  # ended
        assert "har gått ut" in Notification.objects.filter(user=lead).first().text


def test_withdrawn_or_superseded_grants_are_not_reminded(demo):
    from consent.selectors import reminders_due

    elsa = demo.cases["Elsa"]
    lead = demo["koordinator"]
    soon = timezone.localdate() + timedelta(days=5)
    old = services.grant_record(user=lead, case_id=elsa.pk, giver_type="youth",
                                organisations=orgs(demo, "skolkurator", "polis"),
                                categories=["school"], purpose="x", form="written",
                                given_on=timezone.localdate() - timedelta(days=3),
                                valid_until=soon)
    services.grant_record(user=lead, case_id=elsa.pk, giver_type="youth",
                          organisations=orgs(demo, "skolkurator", "polis"),
                          categories=["school"], purpose="y", form="written")
    assert all(reminder.grant.id != old.pk for reminder in reminders_due())


def test_start_page_lists_consents_expiring_within_30_days(demo, client):
    elsa = demo.cases["Elsa"]
    lead = demo["koordinator"]
    services.grant_record(user=lead, case_id=elsa.pk, giver_type="youth",
                          organisations=orgs(demo, "skolkurator", "polis"),
                          categories=["school"], purpose="x", form="written",
                          valid_until=timezone.localdate() + timedelta(days=10))
    log_in_verified(client, lead)
    body = client.get("/").content.decode()
    section = body.split("Samtycken som löper ut inom 30 dagar")[1].split("</section>")[0]
    assert f"Ärende #{elsa.pk}" in section
    assert AccessEvent.objects.filter(action="list", object_type="consent.ConsentGrant",
                                      case_id=elsa.pk).exists()
    log_in_verified(client, demo["skolkurator"])
    assert "Samtycken som löper ut" not in client.get("/").content.decode()


def test_notifications_are_shown_and_marked_read(demo, client):
    from sspf.notifications import notify

    lead = demo["koordinator"]
    notify(user=lead, key="k1", text="Ett samtycke i ärende #1 går ut snart.", link="/")
    log_in_verified(client, lead)
    assert "går ut snart" in client.get("/").content.decode()
    client.post("/notiser/lasta/")
    assert "går ut snart" not in client.get("/").content.decode()


# --- signed forms -----------------------------------------------------------------------

PDF = b"%PDF-1.7\n" + b"Underskrift Maria Demosson " * 100


def upload(client, grant, data, name="samtycke.pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"/samtycken/{grant.pk}/blankett/",
                       {"document": SimpleUploadedFile(name, data)}, follow=True)


def test_signed_form_is_stored_encrypted_and_downloaded_by_the_coordinator(demo, client):
    from django.db import connection

    from consent.models import ConsentDocument

    grant = give_all(demo, demo.cases["Elsa"])[1]
    log_in_verified(client, demo["koordinator"])
    assert "Blanketten är uppladdad" in upload(client, grant, PDF).content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM consent_consentdocument")
        raw = bytes(cursor.fetchone()[0])
    assert b"%PDF" not in raw and b"Demosson" not in raw
    response = client.get(f"/samtycken/{grant.pk}/blankett/")
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Disposition"] == f'attachment; filename="samtycke-{grant.pk}.pdf"'
    assert AccessEvent.objects.filter(action="view", object_type="consent.ConsentDocument",
                                      case_id=grant.case_id).exists()
    assert ConsentDocument.objects.get().sha256
    again = upload(client, grant, PDF).content.decode()
    assert "redan en blankett" in again


MB = 1024 * 1024


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"<html>not a form</html>", 400, "PDF eller en bild"),
        (b"", 400, "Välj en fil"),
        # Read and found too large by the upload's own check...
        (b"%PDF-" + b"x" * (10 * MB), 400, "Filen är större än 10 MB."),
        # ... and refused unread, over the request limit of the upload path, with the same
        # page and message.
        (b"%PDF-" + b"x" * (10 * MB + 64 * 1024), 413, "Filen är större än 10 MB."),
        (b"%PDF-" + b"x" * (20 * MB), 413, "Filen är större än 10 MB."),
    ],
)
def test_bad_documents_are_refused_and_nothing_stored(demo, client, data, status, message):
    from consent.models import ConsentDocument

    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    response = upload(client, grant, data)
    assert response.status_code == status and not response.redirect_chain
    row = response.content.decode().split(f'id="samtycke-{grant.pk}"')[1].split("</tr>")[0]
    assert message in row
    assert not ConsentDocument.objects.exists()


def post_far_over_the_limit(client, grant):
    """A signed-form upload announcing 12 MB (the body itself is never sent)."""
    return client.post(f"/samtycken/{grant.pk}/blankett/", data=b"x",
                       content_type="multipart/form-data; boundary=x",
                       CONTENT_LENGTH=str(12 * MB))


def test_a_body_far_over_the_limit_is_answered_with_the_page_before_reading(demo, client):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    response = post_far_over_the_limit(client, grant)
    assert response.status_code == 413
    assert "Filen är större än 10 MB." in response.content.decode()
    assert "<h1>Samtycken</h1>" in response.content.decode()
    assert not response.wsgi_request._read_started  # the body was never touched


def test_an_oversized_upload_without_the_second_factor_gets_the_plain_refusal(demo, client):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    client.force_login(demo["koordinator"])  # password given, TOTP code not yet
    response = post_far_over_the_limit(client, grant)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert "Demosson" not in response.content.decode()
    client.logout()
    anonymous = post_far_over_the_limit(client, grant)
    assert anonymous.status_code == 413 and anonymous["Content-Type"].startswith("text/plain")


def test_an_oversized_upload_to_an_invisible_grant_answers_404(demo, client):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["rektor2"])
    response = post_far_over_the_limit(client, grant)
    assert response.status_code == 404
    assert "Samordnade insatser" not in response.content.decode()


def test_the_team_at_large_does_not_get_the_signed_form(demo, client):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    upload(client, grant, PDF)
    client.logout()
    log_in_verified(client, demo["skolkurator"])
    response = client.get(f"/samtycken/{grant.pk}/blankett/")
    assert response.status_code == 403
    assert b"Demosson" not in response.content


def test_consent_cannot_outlast_the_municipality_validity(demo, api_client):
    elsa = demo.cases["Elsa"]
    response = api_client(demo["koordinator"]).post(f"/api/v1/cases/{elsa.pk}/consents/", {
        "giver": {"type": "youth"}, "organisations": orgs(demo, "skolkurator", "polis"),
        "categories": ["school"], "purpose": "x", "form": "written",
        "given_on": days_from_today(-21).isoformat(),
        "valid_until": days_from_today(366 * 3).isoformat()}, format="json")
    assert response.status_code == 400
    assert "12 månader" in response.json()["valid_until"][0]
    assert not ConsentGrant.objects.exists()


def test_a_missing_signed_form_is_a_recorded_404(demo, client):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    assert client.get(f"/samtycken/{grant.pk}/blankett/").status_code == 404
    assert AccessEvent.objects.filter(action="denied", object_type="consent.ConsentDocument",
                                      case_id=grant.case_id).exists()


def test_consent_page_records_the_guardians_it_shows(demo, client):
    elsa = demo.cases["Elsa"]
    log_in_verified(client, demo["skolkurator"])
    client.get(f"/arenden/{elsa.pk}/samtycken/")
    shown = set(AccessEvent.objects.filter(actor_username="skolkurator",
                                           object_type="cases.Guardian")
                .values_list("object_id", flat=True))
    assert shown == {str(g.pk) for g in elsa.youth.guardians.all()}


# --- review findings: supersession, givers, dates, status, history, 400s -------------


def record(demo, case, giver, *, user="koordinator", org_users=("skolkurator",
                                                                 "socialsekreterare"),
           categories=("school",), **extra):
    """One grant; ``giver`` is "youth" or a Guardian."""
    return services.grant_record(
        user=demo[user], case_id=case.pk,
        giver_type="youth" if giver == "youth" else "guardian",
        guardian_id=None if giver == "youth" else giver.pk,
        organisations=orgs(demo, *org_users), categories=list(categories),
        purpose="Samordnade insatser", form="written", **extra)


def add_guardian(demo, case, *, custodian, first_name="Erik"):
    from cases import services as case_services
    from cases.demo import test_series_number

    return case_services.guardian_add(
        user=demo["koordinator"], case_id=case.pk,
        personnummer=test_series_number(date(1979, 3, 14), "M"),
        first_name=first_name, last_name="Bonusson", custodian=custodian)


def status_of(api_client, demo, case):
    return api_client(demo["koordinator"]).get(
        f"/api/v1/cases/{case.pk}/consent-status/").json()


def test_a_newer_grant_dated_back_supersedes_the_wider_one(demo, api_client, client):
    elsa = demo.cases["Elsa"]
    wide = give_all(demo, elsa, categories=("school", "social"))
    assert social_sees(api_client, demo, elsa)
    mum = elsa.youth.guardians.order_by("id").first()
    # Mum narrows her consent on a form signed last week, recorded today.
    narrower = record(demo, elsa, mum, categories=("social",),
                      given_on=days_from_today(-7))
    assert not social_sees(api_client, demo, elsa)
    assert status_of(api_client, demo, elsa)["effective"]["categories"] == ["social"]

    log_in_verified(client, demo["koordinator"])
    page = client.get(f"/arenden/{elsa.pk}/samtycken/").content.decode()
    superseded_row = page.split(f'id="samtycke-{wide[1].pk}"')[1].split("</tr>")[0]
    current_row = page.split(f'id="samtycke-{narrower.pk}"')[1].split("</tr>")[0]
    assert "Ersatt av ett senare samtycke" in superseded_row
    assert "aterkalla" not in superseded_row
    assert f"/samtycken/{narrower.pk}/aterkalla/" in current_row


def test_only_the_givers_current_grant_can_be_withdrawn(demo, api_client, client):
    elsa = demo.cases["Elsa"]
    mum = elsa.youth.guardians.order_by("id").first()
    old = record(demo, elsa, mum, categories=("school", "social"))
    new = record(demo, elsa, mum, categories=("school",))
    response = api_client(demo["koordinator"]).post(
        f"/api/v1/consents/{old.pk}/withdraw/", {"reason": "Fel samtycke"}, format="json")
    assert response.status_code == 400
    assert "ersatts av ett senare samtycke" in response.json()["grant"][0]
    log_in_verified(client, demo["koordinator"])
    page = client.post(f"/samtycken/{old.pk}/aterkalla/", {"reason": "Fel samtycke"})
    assert page.status_code == 400
    assert "ersatts av ett senare samtycke" in page.content.decode()
    assert not ConsentGrant.objects.filter(withdrawn_at__isnull=False).exists()
    assert not AccessEvent.objects.filter(action="consent_withdrawn").exists()
    # The current one is withdrawn, and the page says whose consent it is.
    assert "Maria Demosson" in client.get(f"/samtycken/{new.pk}/aterkalla/").content.decode()
    services.grant_withdraw(user=demo["koordinator"], grant_id=new.pk, reason="Ångrar sig")
    assert ConsentGrant.objects.get(withdrawn_at__isnull=False) == new


def test_an_expired_grant_cannot_be_withdrawn(demo, api_client):
    elsa = demo.cases["Elsa"]
    grant = record(demo, elsa, "youth", valid_until=days_from_today(2))
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        response = api_client(demo["koordinator"]).post(
            f"/api/v1/consents/{grant.pk}/withdraw/", {"reason": "Sent"}, format="json")
    assert response.status_code == 400 and "gått ut" in response.json()["grant"][0]
    assert ConsentGrant.objects.get().withdrawn_at is None


def test_a_guardian_without_custody_cannot_consent(demo, api_client, client):
    elsa = demo.cases["Elsa"]
    stepdad = add_guardian(demo, elsa, custodian=False)
    response = api_client(demo["koordinator"]).post(f"/api/v1/cases/{elsa.pk}/consents/", {
        "giver": {"type": "guardian", "id": stepdad.pk},
        "organisations": orgs(demo, "skolkurator", "socialsekreterare"),
        "categories": ["school"], "purpose": "Syfte", "form": "written"}, format="json")
    assert response.status_code == 400
    assert "inte vårdnaden" in response.json()["giver"][0]
    assert not ConsentGrant.objects.exists()
    log_in_verified(client, demo["koordinator"])
    form = client.get(f"/arenden/{elsa.pk}/samtycken/nytt/").content.decode()
    giver_select = form.split('name="giver"')[1].split("</select>")[0]
    assert "Maria Demosson" in giver_select and "Johan Demosson" in giver_select
    assert "Erik" not in giver_select and f"guardian:{stepdad.pk}" not in giver_select


def test_reminders_only_for_givers_who_must_consent(demo):
    from cases.models import Guardian
    from consent.selectors import reminders_due

    elsa = demo.cases["Elsa"]
    mum, dad = elsa.youth.guardians.order_by("id")
    soon = days_from_today(10)
    record(demo, elsa, "youth", valid_until=soon)
    kept = record(demo, elsa, mum, valid_until=soon)
    lost_custody = record(demo, elsa, dad, valid_until=soon)
    Guardian.objects.filter(pk=dad.pk).update(custodian=False)  # custody decided otherwise
    due = [r for r in reminders_due() if r.case.pk == elsa.pk]
    reminded = {r.grant.id for r in due}
    assert kept.pk in reminded
    assert lost_custody.pk not in reminded
    assert all(r.leads == [demo["koordinator"]] for r in due)
    read = AccessEvent.objects.filter(purpose="daily consent reminder run", case_id=elsa.pk)
    assert {e.object_id for e in read} >= {str(kept.pk)}
    assert all(e.actor_id is None and e.action == "list" for e in read)


def test_the_youth_consents_only_from_the_own_consent_age(demo, api_client):
    nora, elsa = demo.cases["Nora"], demo.cases["Elsa"]  # 14 and 15 years old
    api = api_client(demo["koordinator"])
    body = {"giver": {"type": "youth"}, "organisations": orgs(demo, "skolkurator", "polis"),
            "categories": ["school"], "purpose": "Syfte", "form": "written"}
    too_young = api.post(f"/api/v1/cases/{nora.pk}/consents/", body, format="json")
    assert too_young.status_code == 400
    assert "från 15 års ålder" in too_young.json()["giver"][0]
    # Elsa turned 15 some 250 days ago; a form she signed before that is not her consent.
    before_15 = api.post(f"/api/v1/cases/{elsa.pk}/consents/",
                         {**body, "given_on": days_from_today(-300).isoformat(),
                          "valid_until": days_from_today(30).isoformat()}, format="json")
    assert before_15.status_code == 400
    assert "inte fyllt 15 år" in before_15.json()["given_on"][0]
    assert not ConsentGrant.objects.exists()


# --- case status --------------------------------------------------------------------------


def test_a_custodian_added_after_consent_removes_it_at_once(demo, api_client, client):
    elsa = demo.cases["Elsa"]
    give_all(demo, elsa)
    assert social_sees(api_client, demo, elsa)
    add_guardian(demo, elsa, custodian=True)
    assert not social_sees(api_client, demo, elsa)
    status = status_of(api_client, demo, elsa)
    assert status["effective"] is None and len(status["required_givers"]) == 4
    log_in_verified(client, demo["koordinator"])
    page = client.get(f"/arenden/{elsa.pk}/").content.decode()
    assert "Samtycke saknas" in page.split("</h1>")[0]


def test_a_guardian_without_custody_added_after_consent_changes_nothing(demo, api_client):
    elsa = demo.cases["Elsa"]
    give_all(demo, elsa)
    add_guardian(demo, elsa, custodian=False)
    assert social_sees(api_client, demo, elsa)
    assert status_of(api_client, demo, elsa)["effective"] is not None


def test_an_expired_consent_is_flagged_as_expired(demo, client):
    elsa = demo.cases["Elsa"]
    lead = demo["koordinator"]
    youth_grant, *_ = give_all(demo, elsa)
    mum = elsa.youth.guardians.order_by("id").first()
    record(demo, elsa, mum, valid_until=days_from_today(3))
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        log_in_verified(client, lead)
        heading = client.get(f"/arenden/{elsa.pk}/").content.decode().split("</h1>")[0]
        assert "Samtycke har gått ut" in heading
        assert "Samtycke saknas" not in heading and "återkallats" not in heading
        services.grant_withdraw(user=lead, grant_id=youth_grant.pk, reason="Vill inte")
        heading = client.get(f"/arenden/{elsa.pk}/").content.decode().split("</h1>")[0]
        assert "Samtycke har gått ut" in heading and "Samtycke har återkallats" in heading


def test_grants_with_nothing_in_common_give_no_effective_consent(demo, api_client, client):
    elsa = demo.cases["Elsa"]
    mum, dad = elsa.youth.guardians.order_by("id")
    record(demo, elsa, "youth", org_users=("skolkurator", "socialsekreterare", "polis"))
    record(demo, elsa, mum, org_users=("skolkurator", "socialsekreterare", "polis"))
    record(demo, elsa, dad, org_users=("skolkurator", "fritidsledare"))  # only school shared
    status = status_of(api_client, demo, elsa)
    assert status["effective"] is None
    assert not social_sees(api_client, demo, elsa)
    log_in_verified(client, demo["koordinator"])
    heading = client.get(f"/arenden/{elsa.pk}/").content.decode().split("</h1>")[0]
    assert "ingen gemensam omfattning" in heading
    assert "Samtycke saknas" not in heading


@pytest.mark.parametrize(("last_minute", "visible"), [((23, 59), True), ((0, 1), False)])
def test_expiry_is_at_midnight_in_stockholm(demo, api_client, last_minute, visible):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    elsa = demo.cases["Elsa"]
    last_day = days_from_today(3)
    give_all(demo, elsa)
    for grant in ConsentGrant.objects.filter(case=elsa):
        # Recorded anew, shorter: a grant is never edited.
        giver = "youth" if grant.guardian is None else grant.guardian
        record(demo, elsa, giver, valid_until=last_day)
    day = last_day if visible else last_day + timedelta(days=1)
    moment = datetime(day.year, day.month, day.day, *last_minute,
                      tzinfo=ZoneInfo("Europe/Stockholm"))
    with time_machine.travel(moment, tick=False):
        assert social_sees(api_client, demo, elsa) is visible


# --- history on the case page and the consent page ---------------------------------------


def consent_section(page: str) -> str:
    return page.split('id="samtycken"')[1].split("</section>")[0]


def test_case_page_shows_the_whole_consent_history(demo, client):
    elsa = demo.cases["Elsa"]
    lead = demo["koordinator"]
    youth_grant, mum_grant, dad_grant = give_all(demo, elsa)
    mum = elsa.youth.guardians.order_by("id").first()
    newer = record(demo, elsa, mum, categories=("school", "basic"))
    services.grant_withdraw(user=lead, grant_id=dad_grant.pk, reason="Pappa ringde och ångrade")
    log_in_verified(client, lead)
    section = consent_section(client.get(f"/arenden/{elsa.pk}/").content.decode())
    assert "Giltigt t.o.m." in section
    rows = {g.pk: section.split(f'id="samtycke-{g.pk}"')[1].split("</tr>")[0]
            for g in (youth_grant, mum_grant, dad_grant, newer)}
    assert "Den unge" in rows[youth_grant.pk] and "Gäller" in rows[youth_grant.pk]
    assert "Maria Demosson" in rows[newer.pk]
    assert "Kvarnbackaskolan, Socialtjänsten" in rows[newer.pk]
    assert "Grunduppgifter, Skola" in rows[newer.pk]
    assert "Skriftligt" in rows[newer.pk] and "koordinator" in rows[newer.pk]
    assert newer.valid_until.isoformat() in rows[newer.pk]
    assert "Ersatt av ett senare samtycke" in rows[mum_grant.pk]
    withdrawn = ConsentGrant.objects.get(pk=dad_grant.pk).withdrawn_at
    assert "Återkallat" in rows[dad_grant.pk]
    assert timezone.localtime(withdrawn).strftime("%Y-%m-%d %H:%M") in rows[dad_grant.pk]
    assert "av koordinator" in rows[dad_grant.pk]
    assert "Pappa ringde och ångrade" in rows[dad_grant.pk]
    assert "Samtycke har återkallats" in section
    shown = set(AccessEvent.objects.filter(actor_username="koordinator", action="view",
                                           object_type="consent.ConsentGrant")
                .values_list("object_id", flat=True))
    assert shown == {str(g.pk) for g in (youth_grant, mum_grant, dad_grant, newer)}


def test_the_team_sees_the_history_but_not_the_withdrawal_reason(demo, client, api_client):
    elsa = demo.cases["Elsa"]
    grants = give_all(demo, elsa)
    services.grant_withdraw(user=demo["koordinator"], grant_id=grants[2].pk,
                            reason="Pappa ringde och ångrade")
    log_in_verified(client, demo["skolkurator"])
    for url in (f"/arenden/{elsa.pk}/", f"/arenden/{elsa.pk}/samtycken/"):
        page = client.get(url).content.decode()
        assert "Återkallat" in page and "av koordinator" in page
        assert "Pappa ringde" not in page
        assert "aterkalla" not in page and "blankett" not in page
    listed = api_client(demo["skolkurator"]).get(f"/api/v1/cases/{elsa.pk}/consents/")
    assert listed.status_code == 200 and b"Pappa ringde" not in listed.content


def test_consent_pages_say_giltigt_tom(demo, client):
    elsa = demo.cases["Elsa"]
    log_in_verified(client, demo["koordinator"])
    record(demo, elsa, "youth", valid_until=days_from_today(10))
    pages = [client.get(f"/arenden/{elsa.pk}/samtycken/").content.decode(),
             client.get(f"/arenden/{elsa.pk}/samtycken/nytt/").content.decode(),
             client.get("/").content.decode()]
    for page in pages:
        assert "Giltigt t.o.m." in page
        assert "Gäller till" not in page and "går ut 20" not in page


# --- bad page input answers 400 ----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"purpose": ""}, None),
        ({"given_on": -30, "valid_until": -1}, "Giltighetstiden har redan gått ut"),
        ({"given_on": "9999-12-31"}, "lämnat i framtiden"),
        ({"given_on": "9999-12-31", "valid_until": "9999-12-31"}, "lämnat i framtiden"),
        ({"giver": "mum", "given_on": "0001-01-01"}, "lämnat före"),
        ({"valid_until": "9999-12-31"}, "högst 12 månader"),
        ({"valid_until": "0001-01-01"}, "före datumet då samtycket lämnades"),
        ({"organisations": ["skolkurator", "revisor"]}, "Välj ett giltigt alternativ"),
    ],
)
def test_bad_grant_form_answers_400_and_stores_nothing(demo, client, change, message):
    elsa = demo.cases["Elsa"]
    log_in_verified(client, demo["koordinator"])
    url = f"/arenden/{elsa.pk}/samtycken/nytt/"
    data = {"giver": "youth", "organisations": ["skolkurator", "polis"],
            "categories": ["school"], "purpose": "Syfte", "form": "written", **change}
    data["organisations"] = [str(o) for o in orgs(demo, *data["organisations"])]
    if data["giver"] == "mum":
        data["giver"] = f"guardian:{elsa.youth.guardians.order_by('id')[0].pk}"
    for key in ("given_on", "valid_until"):
        if isinstance(data.get(key), int):
            data[key] = days_from_today(data[key]).isoformat()
    response = client.post(url, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="field has-error"' in page
    if message is not None:
        assert message in page
    assert not ConsentGrant.objects.exists()
    assert not AccessEvent.objects.filter(action="consent_given").exists()


def test_bad_withdraw_form_answers_400_and_withdraws_nothing(demo, client):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    response = client.post(f"/samtycken/{grant.pk}/aterkalla/", {"reason": "  "})
    assert response.status_code == 400
    assert 'class="field has-error"' in response.content.decode()
    assert ConsentGrant.objects.get(pk=grant.pk).withdrawn_at is None


def test_bad_document_upload_answers_400_with_the_error(demo, client):
    from consent.models import ConsentDocument

    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    response = upload(client, grant, b"<html>not a form</html>", name="x.pdf")
    assert response.status_code == 400 and not response.redirect_chain
    row = response.content.decode().split(f'id="samtycke-{grant.pk}"')[1].split("</tr>")[0]
    assert "PDF eller en bild" in row
    assert not ConsentDocument.objects.exists()


def test_document_upload_is_audited_without_personal_data(demo, client):
    from consent.models import ConsentDocument

    elsa = demo.cases["Elsa"]
    grant = give_all(demo, elsa)[1]
    log_in_verified(client, demo["koordinator"])
    upload(client, grant, PDF)
    document = ConsentDocument.objects.get()
    event = AccessEvent.objects.get(action="create", object_type="consent.ConsentDocument")
    assert event.object_id == str(document.pk)
    assert (event.case_id, event.youth_id) == (elsa.pk, elsa.youth_id)
    assert event.actor_username == "koordinator" and event.outcome == "allowed"
    recorded = " ".join(str(v) for v in AccessEvent.objects.filter(pk=event.pk).values().get()
                        .values())
    assert not [value for value in personal_strings(elsa) if value in recorded]


# --- ids out of range and organisations that are not partners ---------------------------


@pytest.mark.parametrize("bad_id", [2**70, 2**63, 0, -1])
def test_the_service_treats_an_impossible_organisation_id_as_unknown(demo, bad_id):
    elsa = demo.cases["Elsa"]
    with pytest.raises(ValidationError) as refused:
        services.grant_record(user=demo["koordinator"], case_id=elsa.pk, giver_type="youth",
                              organisations=[*orgs(demo, "skolkurator"), bad_id],
                              categories=["school"], purpose="Syfte", form="written")
    assert refused.value.message_dict["organisations"] == [
        "Minst en organisation hör inte till ärendets kommun."]
    assert not ConsentGrant.objects.exists()


def test_a_grant_names_only_partner_organisations(demo, api_client, client):
    elsa = demo.cases["Elsa"]
    response = api_client(demo["koordinator"]).post(f"/api/v1/cases/{elsa.pk}/consents/", {
        "giver": {"type": "youth"},
        "organisations": orgs(demo, "skolkurator", "revisor", "analytiker"),
        "categories": ["school"], "purpose": "Syfte", "form": "written"}, format="json")
    assert response.status_code == 400
    assert "samverkansparter" in response.json()["organisations"][0]
    assert not ConsentGrant.objects.exists()
    log_in_verified(client, demo["koordinator"])
    form = client.get(f"/arenden/{elsa.pk}/samtycken/nytt/").content.decode()
    assert "Kvarnbackaskolan" in form and "Lokalpolisområdet" in form
    assert "Dataskyddsfunktionen" not in form and "Säkerhetsenheten" not in form


def checkboxes(page: str, name: str) -> dict[str, bool]:
    """value -> checked, for the checkboxes called ``name``."""
    boxes = {}
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="checkbox"' in tag and f'name="{name}"' in tag:
            boxes[re.search(r'value="([^"]*)"', tag).group(1)] = " checked" in tag
    return boxes


def test_the_organisations_are_prefilled_from_the_team(demo, client):
    elsa = demo.cases["Elsa"]  # team: coordination, school, social services, leisure
    log_in_verified(client, demo["koordinator"])
    page = client.get(f"/arenden/{elsa.pk}/samtycken/nytt/").content.decode()
    team = orgs(demo, "koordinator", "skolkurator", "socialsekreterare", "fritidsledare")
    assert checkboxes(page, "organisations") == {
        **{str(o): True for o in team},
        str(demo["polis"].organisation_id): False,  # a partner, not on this team
        str(demo["rektor2"].organisation_id): False,
    }


# --- guardians of an adult, closed cases ---------------------------------------------------


def birthday(born: date, years: int) -> date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # born on 29 February
        return date(born.year + years, 3, 1)


def noon(day: date):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo("Europe/Stockholm"))


def test_guardians_do_not_consent_for_a_young_person_of_18(demo, api_client):
    omar = demo.cases["Omar"]
    leila = omar.youth.guardians.get()
    with time_machine.travel(noon(birthday(omar.youth.birth_date, 18)), tick=False):
        response = api_client(demo["koordinator"]).post(
            f"/api/v1/cases/{omar.pk}/consents/", {
                "giver": {"type": "guardian", "id": leila.pk},
                "organisations": orgs(demo, "polis", "socialsekreterare"),
                "categories": ["police"], "purpose": "Syfte", "form": "written"},
            format="json")
    assert response.status_code == 400
    assert "fyllt 18 år" in response.json()["giver"][0]
    assert not ConsentGrant.objects.exists()


def test_a_closed_case_takes_no_new_grant_but_a_withdrawal(demo, api_client, client):

    elsa = demo.cases["Elsa"]
    grants = give_all(demo, elsa)
    case_services.case_close(user=demo["koordinator"], case_id=elsa.pk, reason="moved")
    api = api_client(demo["koordinator"])
    body = {"giver": {"type": "youth"}, "organisations": orgs(demo, "skolkurator", "polis"),
            "categories": ["school"], "purpose": "Syfte", "form": "written"}
    assert api.post(f"/api/v1/cases/{elsa.pk}/consents/", body,
                    format="json").status_code == 409
    log_in_verified(client, demo["koordinator"])
    url = f"/arenden/{elsa.pk}/samtycken/nytt/"
    assert client.get(url).status_code == 409
    assert client.post(url, {"giver": "youth", "purpose": "x"}).status_code == 409
    assert ConsentGrant.objects.count() == len(grants)
    assert AccessEvent.objects.filter(action="denied", case_id=elsa.pk,
                                      purpose="new_consent: case closed").count() == 3
    overview = client.get(f"/arenden/{elsa.pk}/samtycken/").content.decode()
    assert url not in overview and "Ärendet är avslutat" in overview

    # The giver may still withdraw: through the API and through the page.
    withdrawn = api.post(f"/api/v1/consents/{grants[0].pk}/withdraw/",
                         {"reason": "Ångrar sig"}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_at"]
    page = client.post(f"/samtycken/{grants[1].pk}/aterkalla/", {"reason": "Mamma ångrar"})
    assert page.status_code == 302
    assert set(ConsentGrant.objects.filter(withdrawn_at__isnull=False)
               .values_list("pk", flat=True)) == {grants[0].pk, grants[1].pk}


# --- consent at the 15th and the 18th birthday ---------------------------------------------


def test_at_15_the_guardians_alone_no_longer_suffice(demo, api_client):
    """Nora is 14; her mother's consent lets the school's entry reach the coordinator
    until the day Nora turns 15, when her own consent is needed too."""
    nora = demo.cases["Nora"]
    sara = nora.youth.guardians.get()
    record(demo, nora, sara, org_users=("skolkurator", "koordinator"))
    fifteen = birthday(nora.youth.birth_date, 15)

    def seen_by_coordinator():
        api = api_client(demo["koordinator"])  # a fresh token: a token lasts 30 days
        entries = api.get(f"/api/v1/cases/{nora.pk}/entries/").content.decode()
        status = api.get(f"/api/v1/cases/{nora.pk}/consent-status/").json()
        return "bytt skola" in entries, [g["type"] for g in status["required_givers"]]

    with time_machine.travel(noon(fifteen - timedelta(days=1)), tick=False):
        assert seen_by_coordinator() == (True, ["guardian"])
    with time_machine.travel(noon(fifteen), tick=False):
        assert seen_by_coordinator() == (False, ["youth", "guardian"])
        record(demo, nora, "youth", org_users=("skolkurator", "koordinator"))
        assert seen_by_coordinator() == (True, ["youth", "guardian"])


def test_at_18_the_guardians_drop_out(demo, api_client, client):
    """Omar is 16; with his own consent but not his mother's nothing crosses until the
    day he turns 18, when his consent alone is the consent."""
    omar = demo.cases["Omar"]
    municipality = omar.municipality
    municipality.consent_validity_months = 36  # so his grant is still valid at 18
    municipality.save()
    record(demo, omar, "youth", org_users=("polis", "socialsekreterare"),
           categories=("police",))
    eighteen = birthday(omar.youth.birth_date, 18)
    police_entry = "centrumtorget"

    def seen_by_social_services():
        api = api_client(demo["socialsekreterare"])
        entries = api.get(f"/api/v1/cases/{omar.pk}/entries/").content.decode()
        status = api.get(f"/api/v1/cases/{omar.pk}/consent-status/").json()
        return police_entry in entries, [g["type"] for g in status["required_givers"]]

    with time_machine.travel(noon(eighteen - timedelta(days=1)), tick=False):
        assert seen_by_social_services() == (False, ["youth", "guardian"])
    with time_machine.travel(noon(eighteen), tick=False):
        assert seen_by_social_services() == (True, ["youth"])
        log_in_verified(client, demo["socialsekreterare"])
        assert police_entry in client.get(f"/arenden/{omar.pk}/").content.decode()


# --- grants are never edited or deleted, in the database itself -------------------------


def refused(sql, params=()):
    with pytest.raises(DatabaseError) as error, transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert "never edited or deleted" in str(error.value)


def test_the_database_refuses_to_edit_a_grants_scope(demo):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    refused("UPDATE consent_consentgrant SET categories = %s WHERE id = %s",
            ['["school", "health"]', grant.pk])
    refused("UPDATE consent_consentgrant SET valid_until = %s WHERE id = %s",
            [days_from_today(300), grant.pk])
    refused("DELETE FROM consent_consentgrant_organisations WHERE consentgrant_id = %s",
            [grant.pk])
    refused("INSERT INTO consent_consentgrant_organisations (consentgrant_id, organisation_id)"
            " VALUES (%s, %s)", [grant.pk, demo["polis"].organisation_id])
    refused("UPDATE consent_consentgrant_organisations SET organisation_id = %s "
            "WHERE consentgrant_id = %s", [demo["polis"].organisation_id, grant.pk])
    grant.refresh_from_db()
    assert grant.categories == ["school"]
    assert set(grant.organisations.values_list("pk", flat=True)) == set(
        orgs(demo, "skolkurator", "socialsekreterare"))


def test_the_database_refuses_to_delete_a_grant(demo):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    refused("DELETE FROM consent_consentgrant WHERE id = %s", [grant.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentGrant.objects.filter(pk=grant.pk).delete()
    assert ConsentGrant.objects.filter(pk=grant.pk).exists()


def test_a_withdrawal_is_stamped_once(demo):
    lead = demo["koordinator"]
    grant = give_all(demo, demo.cases["Elsa"])[0]
    services.grant_withdraw(user=lead, grant_id=grant.pk, reason="Ångrar sig")
    stamped = ConsentGrant.objects.get(pk=grant.pk)
    assert stamped.withdrawn_at is not None and stamped.withdrawn_by == lead
    refused("UPDATE consent_consentgrant SET withdrawn_at = %s, withdrawn_by_id = %s "
            "WHERE id = %s", [timezone.now() + timedelta(days=1), lead.pk, grant.pk])
    refused("UPDATE consent_consentgrant SET withdrawn_at = NULL, withdrawn_by_id = NULL "
            "WHERE id = %s", [grant.pk])
    stamped.withdrawal_reason = "Ett annat skäl"
    with pytest.raises(DatabaseError), transaction.atomic():
        stamped.save(update_fields=["withdrawal_reason"])
    again = ConsentGrant.objects.get(pk=grant.pk)
    assert (again.withdrawn_at, again.withdrawal_reason) == (stamped.withdrawn_at,
                                                             "Ångrar sig")


def test_a_stamp_cannot_carry_another_change(demo):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    refused("UPDATE consent_consentgrant SET withdrawn_at = %s, withdrawn_by_id = %s, "
            "form = 'oral' WHERE id = %s", [timezone.now(), demo["koordinator"].pk, grant.pk])
    refused("UPDATE consent_consentgrant SET withdrawn_at = %s WHERE id = %s",
            [timezone.now(), grant.pk])  # by nobody
    assert ConsentGrant.objects.get(pk=grant.pk).withdrawn_at is None


def test_the_database_refuses_to_change_or_delete_a_signed_form(demo, client):
    from consent.models import ConsentDocument

    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    upload(client, grant, PDF)
    document = ConsentDocument.objects.get()
    refused("UPDATE consent_consentdocument SET size = 1 WHERE id = %s", [document.pk])
    refused("DELETE FROM consent_consentdocument WHERE id = %s", [document.pk])
    assert ConsentDocument.objects.get().data == PDF


@pytest.mark.usefixtures("database_owner")  # the triggers hold even for the owner
def test_truncate_of_consent_tables_is_refused_on_postgresql(demo):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    give_all(demo, demo.cases["Elsa"])
    with connection.cursor() as cursor:  # the foreign keys checked now, not at commit
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for table in ("consent_consentgrant", "consent_consentgrant_organisations",
                  "consent_consentdocument"):
        refused(f"TRUNCATE {table} CASCADE")


def test_sqlite_replace_cannot_rewrite_a_grant_or_its_scope(demo):
    """SQLite's REPLACE deletes the old row without firing delete triggers: refused."""
    if connection.vendor != "sqlite":
        pytest.skip("REPLACE is SQLite's")
    grant = give_all(demo, demo.cases["Elsa"])[0]
    with connection.cursor() as cursor:  # a wider copy of the grant, to put in its place
        cursor.execute("CREATE TEMP TABLE wider AS SELECT * FROM consent_consentgrant "
                       "WHERE id = %s", [grant.pk])
        cursor.execute("""UPDATE wider SET categories = '["school", "health"]'""")
    refused("INSERT OR REPLACE INTO consent_consentgrant SELECT * FROM wider")
    assert ConsentGrant.objects.get(pk=grant.pk).categories == ["school"]
    org = grant.organisations.through.objects.filter(consentgrant_id=grant.pk).first()
    refused("REPLACE INTO consent_consentgrant_organisations (id, consentgrant_id, "
            "organisation_id) VALUES (%s, %s, %s)",
            [org.pk, grant.pk, demo["polis"].organisation_id])
    assert set(grant.organisations.values_list("pk", flat=True)) == set(
        orgs(demo, "skolkurator", "socialsekreterare"))


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_a_rewritten_consent_trigger_function_is_named_on_postgresql(demo):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's trigger functions")
    from audit import triggers

    with connection.cursor() as cursor:  # undone when the test's transaction rolls back
        cursor.execute("CREATE OR REPLACE FUNCTION sspf_consent_stamp_only() RETURNS trigger "
                       "AS $$ BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql")
    assert triggers.missing(connection) == ["consent_consentgrant_stamp_only"]


def test_the_guard_covers_every_column_of_a_grant():
    from consent import triggers as consent_triggers

    columns = {f.column for f in ConsentGrant._meta.concrete_fields}
    assert set(consent_triggers.FIXED_COLUMNS) | set(consent_triggers.STAMP_COLUMNS) == columns
    assert not set(consent_triggers.FIXED_COLUMNS) & set(consent_triggers.STAMP_COLUMNS)


@pytest.mark.usefixtures("database_owner")  # tampers as the owner would
def test_a_missing_consent_trigger_is_named_and_reinstalled_after_migrate(demo):
    from audit import triggers
    from consent.triggers import CONSENT

    assert triggers.missing(connection) == []
    CONSENT.remove(connection)  # restored when the test's transaction rolls back
    assert triggers.missing(connection) == CONSENT.expected(connection.vendor)
    triggers.reinstall_after_migrate(sender=None, using="default")
    assert triggers.missing(connection) == []


@pytest.mark.usefixtures("database_owner")  # rotate_keys runs as the owner
def test_key_rotation_reseals_grants_and_forms_and_keeps_them_guarded(demo, client,
                                                                       settings):
    import io

    from django.core.management import call_command

    from audit import triggers
    from consent.models import ConsentDocument

    lead = demo["koordinator"]
    grant = give_all(demo, demo.cases["Elsa"])[0]
    services.grant_withdraw(user=lead, grant_id=grant.pk, reason="Ångrar sig")
    log_in_verified(client, lead)
    upload(client, grant, PDF)
    settings.SSPF_FIELD_KEYS = [("k2", b"n" * 32), *settings.SSPF_FIELD_KEYS]
    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "consent.ConsentDocument: 1 values re-encrypted" in out.getvalue()
    settings.SSPF_FIELD_KEYS = [("k2", b"n" * 32)]  # the old key is gone
    with connection.cursor() as cursor:
        cursor.execute("SELECT purpose, withdrawal_reason FROM consent_consentgrant "
                       "WHERE id = %s", [grant.pk])
        assert all(v.startswith("k2#") for v in cursor.fetchone())
    again = ConsentGrant.objects.get(pk=grant.pk)
    assert (again.purpose, again.withdrawal_reason) == (
        "Samordnade insatser kring skolfrånvaro", "Ångrar sig")
    assert ConsentDocument.objects.get().data == PDF
    assert triggers.missing(connection) == []
    refused("UPDATE consent_consentgrant SET purpose = purpose WHERE id = %s", [grant.pk])



# --- reminder e-mails survive a failing mail server -------------------------------------

REFUSED_ADDRESSES: set[str] = set()


class RefusingBackend:
    """Delivers to ``mail.outbox`` like the test backend, except that every message to
    an address in REFUSED_ADDRESSES fails as a refusing mail server would."""

    def __init__(self, *args, **kwargs):
        from django.core.mail.backends.locmem import EmailBackend

        self.delivering = EmailBackend(*args, **kwargs)

    def send_messages(self, messages):
        import smtplib

        for message in messages:
            if set(message.to) & REFUSED_ADDRESSES:
                raise smtplib.SMTPRecipientsRefused({a: (550, b"no") for a in message.to})
        return self.delivering.send_messages(messages)


def test_reminder_e_mails_are_sent_by_a_later_run_when_sending_fails(demo, mailoutbox,
                                                                     settings):
    from consent.tasks import remind_expiring
    from sspf.models import Notification

    settings.SSPF_NOTIFY_BY_EMAIL = True
    settings.EMAIL_BACKEND = "tests.test_consent.RefusingBackend"
    lead = demo["koordinator"]
    lead.email = "koordinator@kommun.example"
    lead.save()
    record(demo, demo.cases["Elsa"], "youth", valid_until=days_from_today(20))
    REFUSED_ADDRESSES.add(lead.email)
    try:
        assert remind_expiring.delay().get() == 1  # the notification, whatever the e-mail
    finally:
        REFUSED_ADDRESSES.clear()
    assert mailoutbox == []
    assert Notification.objects.get(user=lead).emailed_at is None

    assert remind_expiring.delay().get() == 0  # nothing new to notify of ...
    assert len(mailoutbox) == 1  # ... but the e-mail that failed is sent now
    assert Notification.objects.get(user=lead).emailed_at is not None
    assert remind_expiring.delay().get() == 0
    assert len(mailoutbox) == 1  # and only once
    mail = mailoutbox[0]
    assert mail.to == [lead.email]
    assert not [v for v in personal_strings(demo.cases["Elsa"]) if v in mail.subject + mail.body]
    assert f"#{demo.cases['Elsa'].pk}" not in mail.body


def test_one_refused_address_does_not_stop_the_others(demo, mailoutbox, settings):
    from sspf.notifications import email_pending, notify

    settings.SSPF_NOTIFY_BY_EMAIL = True
    settings.EMAIL_BACKEND = "tests.test_consent.RefusingBackend"
    people = [demo["koordinator"], demo["socialsekreterare"], demo["skolkurator"]]
    for person in people:
        person.email = f"{person.username}@kommun.example"
        person.save()
        notify(user=person, key="k1", text="Ett samtycke i ärende #1 går ut snart.")
    notify(user=people[0], key="k2", text="Ett samtycke i ärende #2 går ut snart.")
    REFUSED_ADDRESSES.add(people[1].email)
    try:
        assert email_pending() == 2
    finally:
        REFUSED_ADDRESSES.clear()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([people[0].email, people[2].email])
    assert email_pending() == 1
    assert [m.to[0] for m in mailoutbox[2:]] == [people[1].email]
    assert email_pending() == 0 and len(mailoutbox) == 3


def test_a_notification_read_in_the_app_is_not_e_mailed(demo, mailoutbox, settings):
    from sspf.notifications import email_pending, mark_all_read, notify

    settings.SSPF_NOTIFY_BY_EMAIL = True
    lead = demo["koordinator"]
    lead.email = "koordinator@kommun.example"
    lead.save()
    notify(user=lead, key="k1", text="Ett samtycke i ärende #1 går ut snart.")
    mark_all_read(lead)
    assert email_pending() == 0 and mailoutbox == []


# --- what the consent read models carry -----------------------------------------------


def reachable_strings(root, limit=8) -> set[str]:
    """Every string reachable from ``root`` through containers, dataclasses and model
    instances (their field values and cached relations): what a template or a debug page
    could show."""
    from django.db.models import Model
    from django.http import HttpRequest

    found, seen = set(), set()

    def walk(value, depth):
        if isinstance(value, str):
            found.add(str(value))
            return
        if depth > limit or id(value) in seen or isinstance(value, HttpRequest):
            return
        seen.add(id(value))
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            children = list(value)
        elif isinstance(value, Model):
            children = [v for k, v in vars(value).items() if k != "_state"]
            children += list(value._state.fields_cache.values())
            children += list(getattr(value, "_prefetched_objects_cache", {}).values())
        elif hasattr(value, "__dataclass_fields__"):
            children = [getattr(value, name) for name in value.__dataclass_fields__]
        else:
            return
        for child in children:
            walk(child, depth + 1)

    walk(root, 0)
    return found


def contexts(response):
    from django.test.utils import ContextList

    return response.context if isinstance(response.context, ContextList) else [
        response.context]


def test_the_consent_pages_carry_no_protected_contact_details(demo, client):
    """Nora has a protected identity: her and her mother's address and phone are for the
    coordinators alone, and the school counsellor's pages must not carry them, not even
    where no template shows them."""
    from cases.models import Guardian, Youth

    nora = demo.cases["Nora"]
    secrets = ["Skyddad väg 7", "070-111 11 11", "Hemlig gata 3", "070-222 22 22"]
    youth = Youth.objects.get(pk=nora.youth_id)
    youth.address, youth.phone = secrets[:2]
    youth.save()
    sara = Guardian.objects.get(youth=youth)
    sara.address, sara.phone = secrets[2:]
    sara.save()
    record(demo, nora, sara, org_users=("skolkurator", "koordinator"))
    log_in_verified(client, demo["skolkurator"])
    for url in (f"/arenden/{nora.pk}/samtycken/", f"/arenden/{nora.pk}/"):
        response = client.get(url)
        assert response.status_code == 200
        strings = reachable_strings([d for c in contexts(response) for d in c.dicts])
        assert "Testlund" in " ".join(strings)  # the walk does reach the people
        assert not [s for s in secrets if any(s in value for value in strings)], url


def test_the_consent_read_models_repr_no_personal_data(demo, client):
    from consent import selectors

    elsa = demo.cases["Elsa"]
    lead = demo["koordinator"]
    grants = give_all(demo, elsa)
    services.grant_withdraw(user=lead, grant_id=grants[1].pk, reason="Mamma ångrade sig")
    overview = selectors.consent_overview(user=lead, case_id=elsa.pk)
    page = selectors.withdrawal_page(user=lead, grant_id=grants[2].pk)
    personal = [*personal_strings(elsa), "Samordnade insatser", "Mamma ångrade sig",
                "Kvarnbackaskolan"]
    shown = [repr(overview), repr(page), *(repr(row) for row in overview.history)]
    assert "Maria Demosson" in " ".join(r.giver for r in overview.history)  # names are there
    for text in shown:
        assert not [value for value in personal if value in text], text
    assert repr(overview.history[0]) == f"HistoryRow(id={overview.history[0].id})"
