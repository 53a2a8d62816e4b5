"""Signals of concern: report-only for the reporter, triage by the municipality's
coordinators, and the signal taken up as an item of its case, gated like an entry."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.models import AccessEvent, Action
from cases import policy, services
from cases.models import Case, Signal, Youth
from tests.conftest import log_in_verified
from tests.factories import open_case
from tests.factories import youth_number as number

pytestmark = pytest.mark.django_db
API = "/api/v1/"






def raise_signal(user, **kwargs):
    values = {"concerns": ["absence"], "text": "Oro för frånvaro sedan höstlovet."}
    values.update(kwargs)
    return services.signal_raise(user=user, **values)


def test_the_answer_to_raising_a_signal_is_the_same_whatever_is_known(world, api_client):
    known = number(days=10)
    open_case(world, personnummer=known, first_name="Kim", team=["social"])
    client = api_client(world["school"])
    answers = []
    for identity in ({"personnummer": known}, {"personnummer": number(days=20)},
                     {"first_name": "Okänd", "last_name": "Person", "school": "Norrskolan"}):
        response = client.post(f"{API}signals/", {
            **identity, "concerns": ["absence", "aggression"], "text": "Oro."}, format="json")
        assert response.status_code == 201, response.content
        answers.append(response.json())
    assert [sorted(a) for a in answers] == [["concerns", "created_at", "id", "status"]] * 3
    assert {a["status"] for a in answers} == {"new"}
    # and the reporter's list says nothing about a case either
    listed = client.get(f"{API}signals/").json()["results"]
    assert len(listed) == 3
    assert all("case" not in row and "protected_identity" not in row for row in listed)


def test_a_reporter_sees_only_their_own_signals_and_each_status(world, api_client):
    mine = raise_signal(world["school"], personnummer=number())
    theirs = raise_signal(world["leisure"], first_name="Alex", last_name="Berg")
    client = api_client(world["school"])
    assert [s["id"] for s in client.get(f"{API}signals/").json()["results"]] == [mine.pk]
    assert client.get(f"{API}signals/{theirs.pk}/").status_code == 404
    services.signal_triage(user=world.coordinator, signal_id=mine.pk, action="open_case",
                           first_name="Kim", last_name="Berg")
    seen = client.get(f"{API}signals/{mine.pk}/").json()
    assert seen["status"] == "taken_up"
    assert "case" not in seen
    case_id = Signal.objects.get(pk=mine.pk).case_id
    # Raising a signal gives no access to the case it went into.
    assert client.get(f"{API}cases/{case_id}/").status_code == 404
    assert client.get(f"{API}cases/{case_id}/entries/").status_code == 404


def test_signals_of_other_municipalities_and_roles_answer_404(world, api_client):
    signal = raise_signal(world["police"], personnummer=number())
    for who in ("elsewhere", "school", "auditor"):
        response = api_client(world[who]).get(f"{API}signals/{signal.pk}/")
        assert response.status_code == 404, who
        assert "frånvaro" not in response.content.decode()
    assert api_client(world.coordinator).get(f"{API}signals/{signal.pk}/").status_code == 200
    assert api_client(world["auditor"]).post(f"{API}signals/", {}, format="json"
                                              ).status_code == 403


@pytest.mark.parametrize(("payload", "field"), [
    ({"concerns": ["absence"], "text": "x"}, "personnummer"),
    ({"first_name": "Kim", "concerns": ["absence"], "text": "x"}, "personnummer"),
    ({"personnummer": "12345", "concerns": ["absence"], "text": "x"}, "personnummer"),
    ({"first_name": "Kim", "last_name": "B", "concerns": ["gossip"], "text": "x"}, "concerns"),
    ({"first_name": "Kim", "last_name": "B", "concerns": [], "text": "x"}, "concerns"),
    ({"first_name": "Kim", "last_name": "B", "concerns": ["other"], "text": ""}, "text"),
    ({"first_name": "Kim", "last_name": "B", "concerns": ["other"], "text": "x" * 5001},
     "text"),
    ({"first_name": "Kim", "last_name": "B", "concerns": ["other"], "text": "x",
      "report_of_concern_made": True,
      "report_of_concern_date": (date.today() + timedelta(days=2)).isoformat()},
     "report_of_concern_date"),
    ({"first_name": "Kim", "last_name": "B", "concerns": ["other"], "text": "x",
      "report_of_concern_made": True}, "report_of_concern_date"),
])
def test_bad_signals_are_refused_naming_the_field_and_nothing_is_written(
        world, api_client, payload, field):
    response = api_client(world["school"]).post(f"{API}signals/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Signal.objects.exists()


def test_the_queue_is_the_municipalitys_new_signals_oldest_first(world, api_client):
    first = raise_signal(world["school"], personnummer=number(days=1))
    second = raise_signal(world["police"], personnummer=number(days=2))
    raise_signal(world["elsewhere"], first_name="Annan", last_name="Kommun")
    dismissed = raise_signal(world["leisure"], first_name="Alex", last_name="Berg")
    services.signal_triage(user=world.coordinator, signal_id=dismissed.pk, action="dismiss",
                           reason="Redan känd av socialtjänsten")
    queue = api_client(world.coordinator).get(f"{API}signals/", {"status": "new"}).json()
    assert [s["id"] for s in queue["results"]] == [first.pk, second.pk]
    assert queue["results"][0]["source_org"]["id"] == world.orgs["school"].pk
    from cases.selectors import new_signal_count
    assert new_signal_count(world.coordinator) == 2
    assert new_signal_count(world["school"]) is None


def test_opening_a_case_from_a_signal_makes_it_an_item_gated_like_an_entry(world, api_client):
    signal = raise_signal(world["school"], personnummer=number(), first_name="Kim",
                          last_name="Berg", text="Skolan är orolig för Kim.")
    response = api_client(world.coordinator).post(
        f"{API}signals/{signal.pk}/triage/", {"action": "open_case"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "taken_up"
    case = Case.objects.get(pk=body["case"])
    assert case.status == Case.Status.ASSESSING
    for key in ("school", "social", "leisure"):
        services.member_add(user=world.coordinator, case_id=case.pk,
                            username=world[key].username)

    def items(who):
        response = api_client(world[who]).get(f"{API}cases/{case.pk}/entries/")
        assert response.status_code == 200
        return response.json()["results"]

    (item,) = items("coordination")  # addressed to the coordination
    assert (item["kind"], item["category"], item["source_org"]["id"], item["concerns"]) == (
        "signal", "school", world.orgs["school"].pk, ["absence"])
    assert item["text"] == "Skolan är orolig för Kim."
    assert [i["kind"] for i in items("school")] == ["signal"]  # its own organisation
    assert items("leisure") == []  # no consent
    assert "orolig" not in api_client(world["leisure"]).get(
        f"{API}cases/{case.pk}/entries/").content.decode()


def test_a_report_of_concern_reaches_social_services_without_consent(world, api_client):
    signal = raise_signal(world["school"], personnummer=number(), first_name="Kim",
                          last_name="Berg", report_of_concern_made=True,
                          report_of_concern_date=timezone.localdate())
    services.signal_triage(user=world.coordinator, signal_id=signal.pk, action="open_case")
    signal.refresh_from_db()
    assert signal.statutory_recipient_id == world.orgs["social"].pk
    assert "14 kap. 1 § SoL" in signal.statutory_basis
    for key in ("social", "leisure"):
        services.member_add(user=world.coordinator, case_id=signal.case_id,
                            username=world[key].username)
    case = signal.case
    assert list(policy.visible_items(world["social"], case, Signal)) == [signal]
    assert list(policy.visible_items(world["leisure"], case, Signal)) == []


def test_attach_to_an_open_case_and_the_refusals(world, api_client):
    pnr = number()
    case = open_case(world, personnummer=pnr, first_name="Kim")
    other = open_case(world, personnummer=number(days=99), first_name="Alex")
    elsewhere = services.case_create(user=world["elsewhere"], personnummer=number(days=77),
                                     first_name="Bo", last_name="Ek")
    signal = raise_signal(world["police"], personnummer=pnr)
    client = api_client(world.coordinator)
    url = f"{API}signals/{signal.pk}/triage/"
    for case_id in (elsewhere.pk, 999999, None):
        response = client.post(url, {"action": "attach", "case": case_id}, format="json")
        assert response.status_code == 400 and "case" in response.json(), case_id
    response = client.post(url, {"action": "attach", "case": other.pk}, format="json")
    assert response.status_code == 400 and "case" in response.json()  # another youth
    assert Signal.objects.get(pk=signal.pk).status == Signal.Status.NEW
    response = client.post(url, {"action": "attach", "case": case.pk}, format="json")
    assert response.json() == {"id": signal.pk, "status": "taken_up", "case": case.pk}
    again = client.post(url, {"action": "dismiss", "reason": "x"}, format="json")
    assert again.status_code == 400 and "action" in again.json()
    case.refresh_from_db()
    assert case.facts.signal_source_kinds == ["police"]
    assert case.facts.concerns == ["absence"]


def test_attaching_to_a_closed_case_is_refused(world, api_client):
    pnr = number()
    case = open_case(world, personnummer=pnr)
    services.case_close(user=world.coordinator, case_id=case.pk, reason="moved")
    signal = raise_signal(world["school"], personnummer=pnr)
    response = api_client(world.coordinator).post(
        f"{API}signals/{signal.pk}/triage/", {"action": "attach", "case": case.pk},
        format="json")
    assert response.status_code == 409
    assert Signal.objects.get(pk=signal.pk).status == Signal.Status.NEW


def test_only_coordinators_triage_and_bad_triage_input_is_named(world, api_client):
    signal = raise_signal(world["school"], first_name="Kim", last_name="Berg")
    url = f"{API}signals/{signal.pk}/triage/"
    assert api_client(world["school"]).post(url, {"action": "dismiss", "reason": "x"},
                                            format="json").status_code == 403
    assert api_client(world["elsewhere"]).post(url, {"action": "dismiss", "reason": "x"},
                                               format="json").status_code == 404
    client = api_client(world.coordinator)
    for payload, field in (({"action": "forget"}, "action"),
                           ({"action": "dismiss"}, "reason"),
                           ({"action": "open_case"}, "personnummer")):
        response = client.post(url, payload, format="json")
        assert response.status_code == 400 and field in response.json(), payload
    assert Signal.objects.get(pk=signal.pk).status == Signal.Status.NEW
    assert not Case.objects.exists()
    # a name-only signal opens a case once the coordinator supplies the number
    response = client.post(url, {"action": "open_case", "personnummer": number()},
                           format="json")
    assert response.status_code == 200, response.content


def test_a_signal_about_a_protected_identity_is_marked_and_every_access_flagged(world,
                                                                              api_client):
    pnr = number()
    open_case(world, personnummer=pnr, protected_identity=True)
    signal = raise_signal(world["school"], personnummer=pnr)
    assert Signal.objects.get(pk=signal.pk).protected_identity
    assert "protected_identity" not in api_client(world["school"]).get(
        f"{API}signals/{signal.pk}/").json()
    events = AccessEvent.objects.filter(object_type="cases.Signal", object_id=str(signal.pk))
    assert events.filter(action=Action.CREATE).exists()
    assert events.filter(action=Action.VIEW).exists()
    assert all("protected_identity" in (e.flags or "") for e in events)


def test_the_signal_pages(world, client):
    from sspf.roles import Role
    from tests.factories import make_staff

    counsellor = make_staff("kurator-sida", role=Role.SCHOOL_STAFF,
                            organisation=world.orgs["school"])
    log_in_verified(client, counsellor)
    page = client.get("/signaler/ny/")
    assert page.status_code == 200
    response = client.post("/signaler/ny/", {"first_name": "Kim", "last_name": "Berg",
                                             "concerns": ["absence", "other"],
                                             "text": "Oro för Kim."})
    assert response.status_code == 302
    signal = Signal.objects.get()
    assert signal.concerns == ["absence", "other"]
    listing = client.get("/signaler/").content.decode()
    assert "Ny" in listing and "Kim" in listing
    bad = client.post("/signaler/ny/", {"concerns": ["absence"], "text": "x"})
    assert bad.status_code == 400
    assert "personnummer" in bad.content.decode()
    assert Signal.objects.count() == 1
    assert client.get(f"/signaler/{signal.pk}/hantera/").status_code == 403



@pytest.fixture
def second_coordinator(world):
    """Another coordinator of the same municipality, on no case's team."""
    from sspf.roles import Role
    from tests.factories import make_staff

    return make_staff("koordinator-b", role=Role.COORDINATOR,
                      organisation=world.orgs["coordination"])


def test_a_coordinator_off_the_team_learns_neither_the_case_nor_the_item_from_the_signal(
        world, second_coordinator, api_client):
    pnr = number()
    signal = raise_signal(world["police"], personnummer=pnr, first_name="Kim",
                          last_name="Berg", text="Polisens iakttagelse om Kim")
    services.signal_triage(user=world.coordinator, signal_id=signal.pk, action="open_case")
    case_id = Signal.objects.get(pk=signal.pk).case_id
    client = api_client(second_coordinator)
    # the case itself is invisible to this coordinator ...
    assert client.get(f"{API}cases/{case_id}/").status_code == 404
    assert client.get(f"{API}cases/{case_id}/entries/").status_code == 404
    # ... but the signal, now an item of that case, still tells which case the youth
    # has and shows the item's text past the team and consent gates
    response = client.get(f"{API}signals/{signal.pk}/")
    listed = client.get(f"{API}signals/").content.decode()
    leaked = []
    if response.status_code == 200:
        body = response.json()
        if body.get("case") == case_id:
            leaked.append("case id")
        if "Polisens iakttagelse" in body.get("text", ""):
            leaked.append("item text")
    if f'"case":{case_id}' in listed.replace(" ", ""):
        leaked.append("case id in the list")
    assert not leaked, f"a coordinator off the team gets: {leaked}"


def test_attaching_a_signal_with_a_protected_identity_protects_the_youth(world, api_client):
    pnr = number()
    case = open_case(world, personnummer=pnr, team=["school"])
    signal = raise_signal(world["police"], personnummer=pnr, protected_identity=True)
    response = api_client(world.coordinator).post(
        f"{API}signals/{signal.pk}/triage/", {"action": "attach", "case": case.pk},
        format="json")
    assert response.status_code == 200
    # opening a case from the same signal would have protected the youth; attaching does not
    assert Youth.objects.get(pk=case.youth_id).protected_identity, (
        "the reporter said the youth has a protected identity, yet the case's youth is "
        "not protected: contact details go to the team and reads go unflagged")


@pytest.mark.parametrize("path", ["{api}signals/{id}/", "{api}signals/{id}/triage/"])
def test_a_signal_id_beyond_bigint_answers_404(world, api_client, path):
    url = path.format(api=API, id=2**63)
    client = api_client(world.coordinator)
    response = (client.post(url, {"action": "dismiss", "reason": "x"}, format="json")
                if url.endswith("triage/") else client.get(url))
    assert response.status_code == 404


def test_the_signal_page_with_an_id_beyond_bigint_answers_404(world, client):
    log_in_verified(client, world["school"])
    assert client.get(f"/signaler/{2**63}/").status_code == 404


def test_a_case_opened_meanwhile_is_answered_and_the_referral_kept(world, second_coordinator,
                                                                  monkeypatch):
    """Another coordinator opens a case for the young person between triage's check and
    its write: the triage is undone, and the referral it answers with is kept."""
    from audit.models import AccessEvent, Action
    from cases.services import signals as signal_services
    from sspf.models import Notification

    pnr = number()
    open_case(world, personnummer=pnr)  # led by world.coordinator
    signal = raise_signal(world["police"], personnummer=pnr, first_name="Kim",
                          last_name="Berg")
    real = signal_services._open_case_of
    calls = iter([None])  # the check finds nothing; the answer afterwards finds the case
    monkeypatch.setattr(signal_services, "_open_case_of",
                        lambda *args: next(calls, None) or real(*args))
    with pytest.raises(services.CaseReferred):
        services.signal_triage(user=second_coordinator, signal_id=signal.pk,
                               action="open_case")
    assert Signal.objects.get(pk=signal.pk).status == Signal.Status.NEW
    assert Case.objects.count() == 1
    assert Notification.objects.filter(user=world.coordinator).exists()
    assert AccessEvent.objects.filter(action=Action.CASE_REFERRED,
                                      actor_username=second_coordinator.username).exists()
