"""Consent decides what crosses organisation lines: pages, API, at once; history and
audit; bad input refused with nothing stored."""

from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AccessEvent
from consent import services
from consent.models import ConsentGrant
from tests.conftest import log_in_verified

pytestmark = pytest.mark.django_db

SCHOOL_ENTRY = "Hög frånvaro sedan höstlovet"


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
    response = api.post(f"/api/v1/cases/{elsa.pk}/consents/", {
        "giver": {"type": "guardian", "id": guardian.pk},
        "organisations": orgs(demo, "skolkurator", "polis"), "categories": ["school"],
        "purpose": "Syfte", "form": "oral", "given_on": "2026-11-01",
    }, format="json")
    assert response.status_code == 201, response.content
    grant_id = response.json()["id"]
    assert response.json()["valid_until"] == "2027-11-01"
    withdrawn = api.post(f"/api/v1/consents/{grant_id}/withdraw/", {"reason": "Ångrat"},
                         format="json")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["withdrawn_at"] is not None
    again = api.post(f"/api/v1/consents/{grant_id}/withdraw/", {"reason": "Igen"},
                     format="json")
    assert again.status_code == 400 and "reason" in again.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"organisations": "grannby"}, "organisations"),
        ({"organisations": "one"}, "organisations"),
        ({"categories": ["school", "weather"]}, "categories"),
        ({"giver": {"type": "guardian", "id": "other-youth"}}, "giver"),
        ({"given_on": "2026-11-10", "valid_until": "2026-11-01"}, "valid_until"),
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
    if body["giver"].get("id") == "other-youth":
        body["giver"]["id"] = omar.youth.guardians.first().pk
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
    assert "Samtycke saknas" in page


def test_recording_through_the_page(demo, client):
    elsa = demo.cases["Elsa"]
    log_in_verified(client, demo["koordinator"])
    form = client.get(f"/arenden/{elsa.pk}/samtycken/nytt/")
    assert form.status_code == 200
    response = client.post(f"/arenden/{elsa.pk}/samtycken/nytt/", {
        "giver": "youth", "organisations": [str(o) for o in orgs(demo, "skolkurator",
                                                                   "fritidsledare")],
        "categories": ["leisure"], "purpose": "Fritidsaktiviteter", "form": "written",
        "given_on": "2026-11-20",
    })
    assert response.status_code == 302
    grant = ConsentGrant.objects.get()
    assert grant.given_on == date(2026, 11, 20)
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
    assert "Samtycke har upphört" in client.get(f"/arenden/{elsa.pk}/").content.decode()
    assert "Samtycke saknas" in client.get(f"/arenden/{omar.pk}/").content.decode()


def test_list_flags_take_a_fixed_number_of_queries(demo, api_client,
                                                   django_assert_max_num_queries):
    give_all(demo, demo.cases["Elsa"])
    api = api_client(demo["koordinator"])
    with django_assert_max_num_queries(18):
        assert api.get("/api/v1/cases/").status_code == 200


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
    assert "Elsa" not in mail.body and str(elsa.pk) not in mail.body
    assert "Demosson" not in mail.subject + mail.body

    with time_machine.travel(timezone.now() + timedelta(days=14)):
        assert remind_expiring.delay().get() == 1  # now within 7 days
    with time_machine.travel(timezone.now() + timedelta(days=21)):
        assert remind_expiring.delay().get() == 1  # ended
        assert "gick ut" in Notification.objects.filter(user=lead).first().text


def test_withdrawn_or_superseded_grants_are_not_reminded(demo):
    from consent.tasks import reminders_due

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
    assert all(grant.id != old.pk for _case, grant, _kind in reminders_due())


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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>not a form</html>", "PDF eller en bild"),
        (b"", "Välj en fil"),
        (b"%PDF-" + b"x" * (10 * 1024 * 1024), "större än 10 MB"),
    ],
)
def test_bad_documents_are_refused_and_nothing_stored(demo, client, data, message):
    from consent.models import ConsentDocument

    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    assert message in upload(client, grant, data).content.decode()
    assert not ConsentDocument.objects.exists()


def test_a_body_far_over_the_limit_is_refused_before_reading(demo, client):
    grant = give_all(demo, demo.cases["Elsa"])[0]
    log_in_verified(client, demo["koordinator"])
    response = client.post(f"/samtycken/{grant.pk}/blankett/", data=b"x",
                           content_type="application/octet-stream",
                           CONTENT_LENGTH=str(12 * 1024 * 1024))
    assert response.status_code == 413


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
        "given_on": "2026-11-01", "valid_until": "2099-01-01"}, format="json")
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
