"""Case pages: start page, list, search by POST, create, detail, team, guardians,
entries, stale edits. The authorization matrix covers who gets which status; these
tests cover what the pages do."""

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AccessEvent, Action
from cases import services
from cases.models import Case, CaseMember, Entry, Guardian, Youth
from sspf.models import Notification
from sspf.personnummer import luhn_ok
from sspf.roles import Role
from tests.conftest import log_in_verified
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def valid_pnr(yymmdd="120505", serial="980"):
    for digit in range(10):
        if luhn_ok(yymmdd + serial + str(digit)):
            return f"20{yymmdd}-{serial}{digit}"
    raise AssertionError("no check digit")


def page(client, user, url, **kwargs):
    client.logout()
    log_in_verified(client, user)
    return client.get(url, **kwargs)


def test_coordinator_start_page_lists_open_cases(demo, client):
    body = page(client, demo["koordinator"], "/").content.decode()
    for name in ("Elsa", "Omar", "Nora"):
        assert name in body
    assert "Alva" not in body  # Grannby's case


def test_start_page_of_a_non_member_lists_no_case(demo, client):
    body = page(client, demo["rektor2"], "/").content.decode()
    assert "Du ingår inte i något öppet ärende." in body
    assert "Elsa" not in body


@pytest.mark.parametrize("username", ["revisor", "analytiker", "admin"])
def test_non_case_roles_see_no_case_anywhere(demo, client, username):
    for url in ("/", "/arenden/"):
        body = page(client, demo[username], url).content.decode()
        assert "Elsa" not in body and "Demosson" not in body


def test_superuser_flag_gives_no_case_access(demo, client):
    boss = make_staff("superchef", role=Role.SOCIAL_WORKER,
                      organisation=demo["socialsekreterare"].organisation, is_superuser=True)
    response = page(client, boss, f"/arenden/{demo.cases['Elsa'].pk}/")
    assert response.status_code == 404
    assert "Elsa" not in response.content.decode()


def test_superuser_flag_grants_no_action_its_role_lacks(demo, api_client):
    """A coordinator-role superuser whose role group carries no permissions may neither
    create a case nor write in one: only the role's group decides, never the flag."""
    from django.contrib.auth.models import Group

    from cases import policy

    boss = make_staff("superkoordinator", role=Role.COORDINATOR,
                      organisation=demo["koordinator"].organisation, is_superuser=True)
    Group.objects.get(name=str(Role.COORDINATOR)).user_set.remove(boss)
    boss = type(boss).objects.get(pk=boss.pk)
    before = Case.objects.count()
    response = api_client(boss).post("/api/v1/cases/", {"youth": {
        "personnummer": valid_pnr("120505"), "first_name": "Ny", "last_name": "Person"}},
        format="json")
    assert response.status_code == 403
    assert Case.objects.count() == before
    assert not policy.may_create_case(boss)
    assert not policy.role_grants(boss, "cases.add_entry")


def test_search_is_posted_and_the_number_stays_out_of_url_and_page(demo, client):
    log_in_verified(client, demo["skolkurator"])
    number = demo.pnr["Elsa"][2:]  # YYMMDD-NNNN
    response = client.post("/arenden/", {"personnummer": number})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Elsa" in body and "Omar" not in body
    assert number[:6] not in body  # not echoed back
    search = AccessEvent.objects.filter(action="search").first()
    assert number[:6] not in search.purpose and number[:6] not in search.path


def test_search_with_an_invalid_number_names_the_field(demo, client):
    log_in_verified(client, demo["skolkurator"])
    response = client.post("/arenden/", {"personnummer": "110314-2382"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Kontrollsiffran stämmer inte" in body
    assert "110314" not in body  # not written back, not even when wrong


def test_search_finds_nothing_outside_the_team(demo, client):
    log_in_verified(client, demo["rektor2"])
    body = client.post("/arenden/", {"personnummer": demo.pnr["Elsa"]}).content.decode()
    assert "Inget ärende du har tillgång till" in body
    assert "Elsa" not in body


def test_status_filter_and_pagination(demo, client):
    coordinator = demo["koordinator"]
    for n in range(26):
        services.case_create(user=coordinator, personnummer=valid_pnr(f"1205{n + 1:02d}"),
                             first_name=f"Extra{n}", last_name="Exempel")
    first = page(client, coordinator, "/arenden/?status=open").content.decode()
    assert "Sida 1 av 2" in first
    second = client.get("/arenden/?status=open&page=2").content.decode()
    assert "Sida 2 av 2" in second
    closed = client.get("/arenden/?status=closed").content.decode()
    assert "Inga ärenden att visa." in closed


def test_create_case_makes_the_coordinator_lead_member(demo, client):
    log_in_verified(client, demo["koordinator"])
    response = client.post("/arenden/nytt/", {
        "personnummer": valid_pnr("120707"), "first_name": "Ny", "last_name": "Ungdom",
        "area": "Centrum",
    })
    case = Case.objects.get(youth__personnummer_index=Youth.objects.latest("id")
                            .personnummer_index)
    assert response.status_code == 302
    assert response["Location"] == reverse("case_detail", args=[case.pk])
    membership = CaseMember.objects.get(case=case)
    assert (membership.user, membership.role_in_case) == (demo["koordinator"], "lead")
    assert case.area == "Centrum"


def test_create_case_with_bad_input_names_fields_and_writes_nothing(demo, client):
    log_in_verified(client, demo["koordinator"])
    before = (Case.objects.count(), Youth.objects.count())
    response = client.post("/arenden/nytt/", {
        "personnummer": "120707-0000", "first_name": "", "last_name": "X",
    })
    body = response.content.decode()
    assert response.status_code == 400
    assert "Kontrollsiffran stämmer inte" in body
    assert "Det här fältet är obligatoriskt." in body
    assert (Case.objects.count(), Youth.objects.count()) == before


def test_second_open_case_for_the_same_youth_is_refused_naming_it_to_the_team(demo, client):
    log_in_verified(client, demo["koordinator"])
    elsa = demo.cases["Elsa"]
    response = client.post("/arenden/nytt/", {
        "personnummer": demo.pnr["Elsa"], "first_name": "Elsa", "last_name": "Demosson",
    })
    assert response.status_code == 400
    assert f"Det finns redan ett öppet ärende för den här personen i kommunen: ärende #{elsa.pk}" \
        in response.content.decode()
    assert Case.objects.filter(youth=elsa.youth).count() == 1


@pytest.fixture
def other_coordinator(demo):
    """A coordinator of the Demo coordination who is on no team."""
    return make_staff("koordinator3", role=Role.COORDINATOR,
                      organisation=demo["koordinator"].organisation)


def test_a_coordinator_off_the_team_learns_nothing_of_the_existing_case(demo, client,
                                                                        other_coordinator):
    """Being an SSPF case is itself sensitive: the attempt goes to the lead coordinator,
    the caller gets a neutral answer that names no case, for a protected identity too."""
    for name in ("Elsa", "Nora"):
        existing = demo.cases[name]
        log_in_verified(client, other_coordinator)
        response = client.post("/arenden/nytt/", {
            "personnummer": demo.pnr[name], "first_name": "Namn", "last_name": "Namnsson"},
            follow=True)
        body = response.content.decode()
        assert response.status_code == 200
        assert "Förfrågan har lämnats vidare till ansvarig samordnare" in body
        assert f"#{existing.pk}" not in body and "redan ett öppet ärende" not in body
        assert Case.objects.filter(youth_index=existing.youth_index).count() == 1
        note = Notification.objects.get(user=demo["koordinator"],
                                        key__startswith=f"case-referral:{existing.pk}:")
        assert f"ärende #{existing.pk}" in note.text and "koordinator3" in note.text
        assert name not in note.text
    elsa_event, nora_event = AccessEvent.objects.filter(action=Action.CASE_REFERRED).order_by("id")
    assert (elsa_event.actor_username, elsa_event.outcome, elsa_event.case_id) == (
        "koordinator3", "denied", demo.cases["Elsa"].pk)
    assert (elsa_event.flags, nora_event.flags) == (None, "protected_identity")
    assert "1 lead coordinator(s)" in elsa_event.purpose


def test_the_api_answers_a_referred_attempt_with_202_and_no_case(demo, api_client,
                                                                 other_coordinator):
    response = api_client(other_coordinator).post("/api/v1/cases/", {
        "youth": {"personnummer": demo.pnr["Nora"], "first_name": "A", "last_name": "B"}},
        format="json")
    assert response.status_code == 202
    assert list(response.json()) == ["detail"]
    assert str(demo.cases["Nora"].pk) not in response.content.decode()


def test_detail_shows_source_organisation_and_only_crossing_entries(demo, client):
    elsa = demo.cases["Elsa"]
    body = page(client, demo["socialsekreterare"], f"/arenden/{elsa.pk}/").content.decode()
    assert "Förhandsbedömning inledd" in body  # own organisation
    assert "Orosanmälan gjord" in body  # statutory basis naming social services
    assert "Kvarnbackaskolan" in body  # its source organisation is shown
    assert "Hög frånvaro" not in body  # school entry without consent or basis
    assert "tjejgruppen" not in body  # leisure entry


def test_detail_read_is_recorded_per_entry(demo, client):
    elsa = demo.cases["Elsa"]
    page(client, demo["fritidsledare"], f"/arenden/{elsa.pk}/")
    seen = set(AccessEvent.objects.filter(actor_username="fritidsledare",
                                          object_type="cases.Entry")
               .values_list("object_id", flat=True))
    expected = {str(e.pk) for e in Entry.objects.filter(case=elsa)
                if e.source_org_id == demo["fritidsledare"].organisation_id}
    assert seen == expected
    assert AccessEvent.objects.filter(actor_username="fritidsledare", action="view",
                                      object_type="cases.Youth", case_id=elsa.pk).exists()


def test_add_and_remove_member_and_access_ends_at_once(demo, client):
    elsa = demo.cases["Elsa"]
    lead, rektor = demo["koordinator"], demo["rektor2"]
    log_in_verified(client, lead)
    client.post(f"/arenden/{elsa.pk}/team/", {"username": "rektor2", "version": elsa.version})
    assert page(client, rektor, f"/arenden/{elsa.pk}/").status_code == 200
    elsa.refresh_from_db()
    log_in_verified(client, lead)
    client.post(f"/arenden/{elsa.pk}/team/rektor2/ta-bort/", {"version": elsa.version})
    assert page(client, rektor, f"/arenden/{elsa.pk}/").status_code == 404
    membership = CaseMember.objects.get(case=elsa, user=rektor)
    assert membership.removed_at is not None and membership.removed_by == lead


def test_member_from_another_municipality_is_refused(demo, client):
    elsa = demo.cases["Elsa"]
    log_in_verified(client, demo["koordinator"])
    response = client.post(f"/arenden/{elsa.pk}/team/",
                           {"username": "koordinator2", "version": elsa.version}, follow=True)
    assert "Det finns ingen användare med det användarnamnet i kommunen." in (
        response.content.decode())
    assert not CaseMember.objects.filter(case=elsa, user=demo["koordinator2"]).exists()


def test_stale_edit_is_refused_and_nothing_is_overwritten(demo, client):
    elsa = demo.cases["Elsa"]
    log_in_verified(client, demo["koordinator"])
    stale = elsa.version
    services.case_update(user=demo["koordinator"], case_id=elsa.pk, area="Norra",
                         expected_version=stale)
    response = client.post(f"/arenden/{elsa.pk}/andra/", {"area": "Centrum", "version": stale},
                           follow=True)
    assert "Ärendet har ändrats av någon annan" in response.content.decode()
    elsa.refresh_from_db()
    assert elsa.area == "Norra"


def test_refusals_speak_english_after_the_switch(demo, client, api_client):
    elsa = demo.cases["Elsa"]
    log_in_verified(client, demo["koordinator"])
    client.post("/sprak/", {"language": "en", "next": "/"})
    stale = elsa.version
    services.case_update(user=demo["koordinator"], case_id=elsa.pk, area="Norra",
                         expected_version=stale)
    body = client.post(f"/arenden/{elsa.pk}/andra/", {"area": "Centrum", "version": stale},
                       follow=True).content.decode()
    assert "The case has been changed by someone else" in body
    assert "Ärendet har ändrats" not in body
    api = api_client(demo["koordinator"])
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = api.get("/api/v1/cases/?status=bogus")
    assert response.status_code == 400
    assert response.json() == {"status": ["Unknown status."]}


def test_add_guardian_and_entry_through_pages(demo, client):
    omar = demo.cases["Omar"]
    log_in_verified(client, demo["koordinator"])
    response = client.post(f"/arenden/{omar.pk}/vardnadshavare/ny/", {
        "personnummer": demo.pnr["Johan"], "first_name": "Ali", "last_name": "Exempelsson",
        "custodian": "on", "version": omar.version,
    })
    assert response.status_code == 302
    assert Guardian.objects.filter(youth=omar.youth).count() == 2
    log_in_verified(client, demo["polis"])
    response = client.post(f"/arenden/{omar.pk}/anteckningar/ny/", {
        "category": "police", "text": "Ny iakttagelse vid torget.",
    })
    assert response.status_code == 302
    entry = Entry.objects.latest("id")
    assert entry.source_org == demo["polis"].organisation
    assert entry.author == demo["polis"]


def test_entry_over_the_limit_is_refused_with_a_message(demo, client):
    omar = demo.cases["Omar"]
    log_in_verified(client, demo["polis"])
    before = Entry.objects.count()
    body = client.post(f"/arenden/{omar.pk}/anteckningar/ny/", {
        "category": "police", "text": "x" * 20_001,
    }).content.decode()
    assert "20000" in body.replace("\u00a0", "").replace(" ", "")
    assert Entry.objects.count() == before


def test_entry_with_a_statutory_basis_names_its_recipient_from_the_team(demo, client):
    omar = demo.cases["Omar"]
    social = demo["socialsekreterare"].organisation
    log_in_verified(client, demo["polis"])
    form = client.get(f"/arenden/{omar.pk}/anteckningar/ny/").content.decode()
    assert f'<option value="{social.pk}">Socialtjänsten</option>' in form
    assert "Lokalpolisområdet</option>" not in form  # not to one's own organisation
    assert "Kvarnbackaskolan" not in form  # not on Omar's team
    before = Entry.objects.count()

    missing = client.post(f"/arenden/{omar.pk}/anteckningar/ny/", {
        "category": "police", "text": "Anmälan upprättad.", "statutory_basis": "10:18 a OSL"})
    assert missing.status_code == 400
    assert "Ange vilken organisation i teamet lagstödet gäller" in missing.content.decode()
    assert Entry.objects.count() == before

    client.post(f"/arenden/{omar.pk}/anteckningar/ny/", {
        "category": "police", "text": "Anmälan upprättad.", "statutory_basis": "10:18 a OSL",
        "statutory_recipient": social.pk})
    entry = Entry.objects.latest("id")
    assert (entry.statutory_basis, entry.statutory_recipient) == ("10:18 a OSL", social)
    body = page(client, demo["socialsekreterare"], f"/arenden/{omar.pk}/").content.decode()
    assert "Anmälan upprättad." in body and "→ Socialtjänsten" in body


def test_protected_identity_contact_details_for_coordinator_only(demo, client):
    lead = demo["koordinator"]
    case = services.case_create(user=lead, personnummer=valid_pnr("120909"),
                                first_name="Skyddad", last_name="Person",
                                protected_identity=True, address="Hemliga vägen 1",
                                phone="070-1234567")
    services.member_add(user=lead, case_id=case.pk, username="skolkurator")
    assert "Hemliga vägen 1" in page(client, lead, f"/arenden/{case.pk}/").content.decode()
    body = page(client, demo["skolkurator"], f"/arenden/{case.pk}/").content.decode()
    assert "Hemliga vägen 1" not in body and "070-1234567" not in body
    assert "Visas endast för ärendets samordnare (skyddade personuppgifter)." in body
    from cases import selectors

    detail = selectors.case_detail(user=demo["skolkurator"], case_id=case.pk)
    assert (detail.case.youth.address, detail.case.youth.phone) == (None, None)
    with pytest.raises(RuntimeError):
        detail.case.youth.save()
    lead_view = selectors.case_detail(user=lead, case_id=case.pk)
    assert lead_view.case.youth.address == "Hemliga vägen 1"


def test_personal_models_str_holds_no_names(demo):
    elsa = demo.cases["Elsa"]
    texts = [str(elsa), str(elsa.youth), *(str(g) for g in elsa.youth.guardians.all()),
             *(str(e) for e in Entry.objects.filter(case=elsa))]
    number = demo.pnr["Elsa"]
    assert all("Elsa" not in t and "Demosson" not in t and number[2:] not in t
               and number.replace("-", "") not in t for t in texts)


def test_change_history_of_case_records_holds_no_personal_values(demo):
    from auditlog.models import LogEntry

    elsa = demo.cases["Elsa"]
    entries = LogEntry.objects.all()
    assert entries.count() > 10
    dump = " ".join(f"{e.changes} {e.object_repr} {e.serialized_data}" for e in entries)
    number = demo.pnr["Elsa"]
    born = f"{number[:4]}-{number[4:6]}-{number[6:8]}"
    for value in ("Elsa", "Demosson", number[2:], number.replace("-", ""), born,
                  "Hög frånvaro", "Maria"):
        assert value not in dump, value
    youth_entry = LogEntry.objects.get_for_object(elsa.youth).get(action=LogEntry.Action.CREATE)
    assert youth_entry.changes["first_name"][1] == "[krypterat]"
    assert youth_entry.actor_id == demo["koordinator"].pk


def test_guardian_address_is_hidden_when_the_young_person_is_protected(demo, client):
    lead = demo["koordinator"]
    case = services.case_create(user=lead, personnummer=valid_pnr("121010"),
                                first_name="Skyddad", last_name="Ungdom",
                                protected_identity=True)
    services.guardian_add(user=lead, case_id=case.pk, personnummer=demo.pnr["Maria"],
                          first_name="Öppen", last_name="Förälder", address="Gemensamma gatan 2")
    services.member_add(user=lead, case_id=case.pk, username="skolkurator")
    body = page(client, demo["skolkurator"], f"/arenden/{case.pk}/").content.decode()
    assert "Gemensamma gatan 2" not in body
    assert "Gemensamma gatan 2" in page(client, lead, f"/arenden/{case.pk}/").content.decode()


def test_a_protected_guardian_hides_the_whole_households_contact_details(demo, client):
    """A guardian with protected identity usually lives with the young person: the young
    person's and the other guardian's addresses would show where, so the whole
    household's contact details go to the coordinators only."""
    lead = demo["koordinator"]
    case = services.case_create(user=lead, personnummer=valid_pnr("121111"),
                                first_name="Öppen", last_name="Ungdom",
                                address="Skyddade stigen 9", phone="070-9998877")
    services.guardian_add(user=lead, case_id=case.pk, personnummer=demo.pnr["Maria"],
                          first_name="Skyddad", last_name="Förälder", protected_identity=True,
                          address="Skyddade stigen 9")
    services.guardian_add(user=lead, case_id=case.pk, personnummer=demo.pnr["Johan"],
                          first_name="Annan", last_name="Förälder", phone="070-5554433")
    services.member_add(user=lead, case_id=case.pk, username="skolkurator")
    body = page(client, demo["skolkurator"], f"/arenden/{case.pk}/").content.decode()
    for secret in ("Skyddade stigen 9", "070-9998877", "070-5554433"):
        assert secret not in body
    assert "Visas för ärendets samordnare" in body
    lead_body = page(client, lead, f"/arenden/{case.pk}/").content.decode()
    assert "Skyddade stigen 9" in lead_body and "070-5554433" in lead_body


def test_a_returning_young_person_gets_a_new_record_that_keeps_only_the_protection(demo):
    """The new team does not inherit the earlier team's guardians or contact details, the
    earlier case keeps its record as it was, and a protected identity is never lost."""
    lead = demo["koordinator"]
    pnr = valid_pnr("121111")
    case = services.case_create(user=lead, personnummer=pnr, first_name="Åter",
                                last_name="Kommande", protected_identity=True, phone="070-1")
    services.guardian_add(user=lead, case_id=case.pk, personnummer=demo.pnr["Maria"],
                          first_name="Tidigare", last_name="Vårdnadshavare")
    case.status, case.closed_at = Case.Status.CLOSED, case.opened_at
    case.save()
    again = services.case_create(user=lead, personnummer=pnr, first_name="Ny",
                                 last_name="Namnsson")
    assert again.youth_id != case.youth_id
    again.youth.refresh_from_db()
    assert again.youth.protected_identity is True
    assert again.youth.phone == ""
    assert not again.youth.guardians.exists()
    old = Youth.objects.get(pk=case.youth_id)
    assert (old.first_name, old.phone, old.guardians.count()) == ("Åter", "070-1", 1)
    with pytest.raises(ValidationError):  # still one open case per person
        services.case_create(user=lead, personnummer=pnr, first_name="Tredje",
                             last_name="Gången")


def test_refused_second_case_is_recorded_with_the_case_it_revealed(demo):
    for name in ("Elsa", "Nora"):
        with pytest.raises(ValidationError) as refused:
            services.case_create(user=demo["koordinator"], personnummer=demo.pnr[name],
                                 first_name="Namn", last_name="Namnsson")
        assert f"#{demo.cases[name].pk}" in refused.value.message_dict["personnummer"][0]
    elsa, nora = (AccessEvent.objects.filter(action="create", outcome="denied").order_by("id"))
    assert elsa.actor_username == "koordinator" and "open case" in elsa.purpose
    assert (elsa.case_id, elsa.flags) == (demo.cases["Elsa"].pk, None)
    # Nora has a protected identity: revealing that her case exists is marked for review.
    assert (nora.case_id, nora.flags) == (demo.cases["Nora"].pk, "protected_identity")


def test_an_administrator_cannot_give_themselves_a_case_role(demo, client):
    admin_user = demo["admin"]
    log_in_verified(client, admin_user)
    org = demo["koordinator"].organisation
    client.post(f"/admin/sspf/user/{admin_user.pk}/change/", {
        "username": "admin", "role": "coordinator", "organisation": org.pk, "is_active": "on",
        "first_name": "", "last_name": "", "email": ""})
    admin_user.refresh_from_db()
    assert admin_user.role == "administrator" and admin_user.organisation is None


def test_admin_shows_no_totp_secret_and_no_change_history(demo, client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    log_in_verified(client, demo["admin"])
    device = TOTPDevice.objects.get(user=demo["koordinator"])
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert device.key not in page
    assert client.get("/admin/auditlog/logentry/").status_code == 404


def test_case_reads_fail_closed_when_their_events_cannot_be_written(demo, monkeypatch):
    """Pages and API: a read whose audit event cannot be written answers 500 and shows
    nothing of the case."""
    from django.db import DatabaseError
    from django.test import Client
    from rest_framework.test import APIClient

    from sspf.tokens import issue_token
    from tests.conftest import personal_strings

    elsa, lead = demo.cases["Elsa"], demo["koordinator"]
    secrets = personal_strings(elsa)
    browser = log_in_verified(Client(raise_request_exception=False), lead)
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user=lead)[1]}")

    def broken(*args, **kwargs):
        raise DatabaseError("the audit table is unavailable")

    monkeypatch.setattr(AccessEvent, "save", broken)
    monkeypatch.setattr(type(AccessEvent.objects), "bulk_create", broken)
    answers = [browser.get(url) for url in
               ("/", "/arenden/", f"/arenden/{elsa.pk}/", f"/arenden/{elsa.pk}/samtycken/")]
    answers.append(browser.post("/arenden/", {"personnummer": demo.pnr["Elsa"]}))
    answers += [api.get(f"/api/v1/cases/{elsa.pk}/{tail}") for tail in
                ("", "entries/", "guardians/", "consents/", "consent-status/")]
    answers.append(api.get("/api/v1/cases/"))
    for answer in answers:
        assert answer.status_code == 500
        body = answer.content.decode()
        assert [s for s in secrets if s in body] == []


@pytest.mark.usefixtures("database_owner")  # lifts a trigger as the owner
def test_every_access_to_a_protected_young_person_is_flagged_for_review(demo, client,
                                                                         api_client):
    from django.db import connection

    from audit import chain, triggers

    nora, elsa = demo.cases["Nora"], demo.cases["Elsa"]
    first = AccessEvent.objects.order_by("-id").first().pk
    page(client, demo["skolkurator"], f"/arenden/{nora.pk}/")
    page(client, demo["skolkurator"], f"/arenden/{elsa.pk}/")
    api_client(demo["koordinator"]).get("/api/v1/cases/")
    api_client(demo["rektor2"]).get(f"/api/v1/cases/{nora.pk}/")  # a denial, no youth id
    events = AccessEvent.objects.filter(pk__gt=first)
    about_nora = events.filter(case_id=nora.pk)
    assert about_nora.count() >= 4
    assert set(about_nora.values_list("flags", flat=True)) == {"protected_identity"}
    assert set(events.filter(case_id=elsa.pk).values_list("flags", flat=True)) == {None}
    assert chain.verify().ok

    flagged = about_nora.first()
    triggers.remove(connection)  # restored when the test's transaction rolls back
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_accessevent SET flags = NULL WHERE id = %s", [flagged.pk])
    assert f"access event {flagged.pk}" in chain.verify().problem


def test_the_demo_shows_what_a_protected_identity_hides(demo, client):
    nora = demo.cases["Nora"]
    school = page(client, demo["skolkurator"], f"/arenden/{nora.pk}/").content.decode()
    assert "Ängabyvägen 3" not in school and "070-174 06 07" not in school
    lead = page(client, demo["koordinator"], f"/arenden/{nora.pk}/").content.decode()
    assert "Ängabyvägen 3" in lead and "070-174 06 07" in lead


@pytest.mark.parametrize("write", ["entry", "member", "guardian", "area"])
def test_a_right_lost_between_check_and_write_stops_the_write(demo, monkeypatch, write):
    """The policy is asked again with the case row locked: a member removed (or a lead
    stripped of the case) while the request was under way writes nothing, and the
    refusal is recorded."""
    from guardian.shortcuts import remove_perm

    from cases import policy

    elsa = demo.cases["Elsa"]
    actor = demo["skolkurator"] if write == "entry" else demo["koordinator"]
    real_require_case = policy.require_case

    def checked_then_revoked(user, case_id, action=policy.CaseAction.VIEW):
        case = real_require_case(user, case_id, action)
        remove_perm("cases.view_case", user, case)  # another request removes the member
        remove_perm("cases.manage_case", user, case)
        return case

    monkeypatch.setattr(policy, "require_case", checked_then_revoked)
    before = (Entry.objects.count(), CaseMember.objects.count(), Guardian.objects.count(),
              Case.objects.get(pk=elsa.pk).version)
    last_event = AccessEvent.objects.order_by("-id").first().pk
    calls = {
        "entry": lambda: services.entry_add(user=actor, case_id=elsa.pk, category="school",
                                            text="Skrivet efter att rätten togs bort."),
        "member": lambda: services.member_add(user=actor, case_id=elsa.pk, username="polis"),
        "guardian": lambda: services.guardian_add(
            user=actor, case_id=elsa.pk, personnummer=demo.pnr["Leila"],
            first_name="Sen", last_name="Tillagd"),
        "area": lambda: services.case_update(user=actor, case_id=elsa.pk, area="Centrum",
                                             expected_version=elsa.version),
    }
    with pytest.raises((policy.NotVisible, policy.Forbidden)):
        calls[write]()
    assert (Entry.objects.count(), CaseMember.objects.count(), Guardian.objects.count(),
            Case.objects.get(pk=elsa.pk).version) == before
    denials = AccessEvent.objects.filter(pk__gt=last_event, action="denied",
                                         case_id=elsa.pk, actor_id=actor.pk)
    assert denials.exists()
    assert not AccessEvent.objects.filter(pk__gt=last_event, action="create").exists()


def test_entries_on_the_case_page_come_a_page_at_a_time_and_only_shown_ones_are_read(
        demo, client):
    from cases.selectors import PAGE_SIZE

    omar, police = demo.cases["Omar"], demo["polis"]
    for n in range(PAGE_SIZE + 2):
        services.entry_add(user=police, case_id=omar.pk, category="police",
                           text=f"Iakttagelse nummer {n:03d}.")
    first_event = AccessEvent.objects.order_by("-id").first().pk
    newest = page(client, police, f"/arenden/{omar.pk}/").content.decode()
    assert "Iakttagelse nummer 026." in newest and "Iakttagelse nummer 001." not in newest
    assert "Sida 1 av 2" in newest
    read = AccessEvent.objects.filter(pk__gt=first_event, object_type="cases.Entry")
    assert read.count() == PAGE_SIZE
    older = client.get(f"/arenden/{omar.pk}/?page=2").content.decode()
    assert "Iakttagelse nummer 001." in older and "Iakttagelse nummer 026." not in older
    assert "Omar har setts med äldre ungdomar" in older  # the demo's own, oldest entry


def household_secrets(case) -> list[str]:
    youth = case.youth
    values = [youth.address, youth.phone]
    for guardian in youth.guardians.all():
        values += [guardian.personnummer, guardian.address, guardian.phone]
    return [v for v in values if v]


def test_contact_details_reach_other_members_only_with_consent_for_basic(demo, client,
                                                                        api_client):
    """Police and leisure on the team saw the young person's address and phone and the
    guardians' identity numbers without any consent."""
    from tests.test_consent import give_all

    elsa = demo.cases["Elsa"]
    household = household_secrets(elsa)
    assert len(household) >= 4  # the demo household has addresses, phones, numbers

    def seen_by(username):
        body = page(client, demo[username], f"/arenden/{elsa.pk}/").content.decode()
        body += api_client(demo[username]).get(
            f"/api/v1/cases/{elsa.pk}/guardians/").content.decode()
        return [v for v in household if v in body]

    assert seen_by("koordinator") == household
    assert seen_by("fritidsledare") == []
    assert seen_by("skolkurator") == []
    guardians = api_client(demo["fritidsledare"]).get(
        f"/api/v1/cases/{elsa.pk}/guardians/").json()
    assert guardians and all(g["personnummer"] is None for g in guardians)

    give_all(demo, elsa, categories=("school",),
             org_users=("skolkurator", "fritidsledare", "koordinator"))
    assert seen_by("fritidsledare") == []  # consent without the basic category
    give_all(demo, elsa, categories=("basic",),
             org_users=("skolkurator", "fritidsledare", "koordinator"))
    assert seen_by("fritidsledare") == household
    assert seen_by("socialsekreterare") == []  # an organisation outside the consent


def test_contact_details_need_a_consent_that_covers_the_coordination_they_come_from(
        demo, client):
    """The coordinators record the household's details: a consent between school and
    leisure alone, even for the basic category, does not carry them to leisure."""
    from tests.test_consent import give_all

    elsa = demo.cases["Elsa"]
    household = household_secrets(elsa)
    give_all(demo, elsa, categories=("basic",), org_users=("skolkurator", "fritidsledare"))
    body = page(client, demo["fritidsledare"], f"/arenden/{elsa.pk}/").content.decode()
    assert [v for v in household if v in body] == []
