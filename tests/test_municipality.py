"""The municipality's and organisations' settings: defaults, refused values, and changes
only through the audited services (a setting decides access, and a change never undoes
a withdrawal of consent)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.models import AccessEvent, Action
from cases.models import Entry
from consent import services as consent_services
from sspf import services as sspf_services
from sspf.models import Municipality, Organisation
from tests.conftest import log_in_verified
from tests.test_consent import give_all

pytestmark = pytest.mark.django_db


def test_a_new_municipality_starts_from_the_agreed_defaults():
    m = Municipality.objects.create(name="Nystad")
    assert (m.age_min, m.age_max) == (12, 18)
    assert m.own_consent_age == 15
    assert m.follow_up_interval_weeks == 6
    assert m.consent_validity_months == 12
    assert m.retention_years == 3
    assert m.suppression_threshold == 5
    assert m.social_worker_records_consent is False


def test_an_age_span_upside_down_is_refused_by_form_and_database():
    m = Municipality(name="Bakvänd", age_min=18, age_max=12)
    with pytest.raises(ValidationError) as exc:
        m.full_clean()
    assert "age_min" in exc.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        m.save()
    assert not Municipality.objects.filter(name="Bakvänd").exists()


@pytest.mark.parametrize(("field", "value"), [
    ("own_consent_age", 11), ("own_consent_age", 19), ("suppression_threshold", 2),
    ("consent_validity_months", 0), ("follow_up_interval_weeks", 53),
])
def test_values_outside_their_range_name_the_field(field, value):
    m = Municipality(name="Gränsby", **{field: value})
    with pytest.raises(ValidationError) as exc:
        m.full_clean()
    assert list(exc.value.message_dict) == [field]


# --- Settings that decide access change only through the audited services ----------------


def municipality_form(municipality, **changes) -> dict:
    data = {field: getattr(municipality, field) for field in (
        "name", "age_min", "age_max", "own_consent_age", "follow_up_interval_weeks",
        "consent_validity_months", "retention_years", "suppression_threshold")}
    data["areas"] = json.dumps(municipality.areas)
    if municipality.social_worker_records_consent:
        data["social_worker_records_consent"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def organisation_form(organisation, **changes) -> dict:
    data = {"name": organisation.name, "kind": organisation.kind,
            "municipality": organisation.municipality_id}
    data.update(changes)
    return data


def latest(action):
    return AccessEvent.objects.filter(action=action).order_by("-id").first()


def test_a_withdrawal_stands_when_the_own_consent_age_is_raised_afterwards(demo, client,
                                                                          api_client):
    """The reproduced attack: the young person (15) withdraws, an administrator raises
    the own-consent age to 16, and the guardians' grants alone would open the school's
    entries to leisure again."""
    elsa = demo.cases["Elsa"]
    school_entries = [e.text[:30] for e in Entry.objects.filter(
        case=elsa, source_org=demo["skolkurator"].organisation)]
    grants = give_all(demo, elsa, org_users=("skolkurator", "fritidsledare"))
    leisure = api_client(demo["fritidsledare"])

    def leisure_reads():
        text = leisure.get(f"/api/v1/cases/{elsa.pk}/entries/").content.decode()
        return [t for t in school_entries if t in text]

    assert leisure_reads() == school_entries
    consent_services.grant_withdraw(user=demo["koordinator"], grant_id=grants[0].pk,
                                    reason="Vill inte längre")
    assert leisure_reads() == []

    log_in_verified(client, demo["admin"])
    demo_town = elsa.municipality
    response = client.post(f"/admin/sspf/municipality/{demo_town.pk}/change/",
                           municipality_form(demo_town, own_consent_age=16))
    assert response.status_code == 302
    demo_town.refresh_from_db()
    assert demo_town.own_consent_age == 16

    assert leisure_reads() == []
    status = api_client(demo["koordinator"]).get(
        f"/api/v1/cases/{elsa.pk}/consent-status/").json()
    assert status["effective"] is None
    assert {"type": "youth", "id": None} in status["required_givers"]
    event = latest(Action.MUNICIPALITY_CHANGED)
    assert (event.actor_username, event.object_type, event.object_id) == (
        "admin", "sspf.Municipality", str(demo_town.pk))
    assert event.purpose == "own_consent_age: 15 → 16"


def test_the_young_person_lifts_their_own_withdrawal_with_a_new_grant(demo, api_client):
    elsa = demo.cases["Elsa"]
    grants = give_all(demo, elsa, org_users=("skolkurator", "fritidsledare"))
    consent_services.grant_withdraw(user=demo["koordinator"], grant_id=grants[0].pk,
                                    reason="Vill inte längre")
    town = elsa.municipality
    town.own_consent_age = 16
    sspf_services.municipality_save(actor=demo["admin"], municipality=town)

    consent_services.grant_record(
        user=demo["koordinator"], case_id=elsa.pk, giver_type="youth",
        organisations=[demo["skolkurator"].organisation_id,
                       demo["fritidsledare"].organisation_id],
        categories=["school"], purpose="Ångrar sig", form="written")

    status = api_client(demo["koordinator"]).get(
        f"/api/v1/cases/{elsa.pk}/consent-status/").json()
    assert status["effective"] is not None
    assert {"type": "youth", "id": None} not in status["required_givers"]


def test_a_change_to_social_workers_recording_consent_is_recorded(demo, client):
    log_in_verified(client, demo["admin"])
    town = demo.cases["Elsa"].municipality
    client.post(f"/admin/sspf/municipality/{town.pk}/change/",
                municipality_form(town, social_worker_records_consent="on"))
    town.refresh_from_db()
    assert town.social_worker_records_consent is True
    assert latest(Action.MUNICIPALITY_CHANGED).purpose == (
        "social_worker_records_consent: False → True")


def test_creating_a_municipality_and_an_organisation_is_recorded(demo, client):
    log_in_verified(client, demo["admin"])
    response = client.post("/admin/sspf/municipality/add/", municipality_form(
        Municipality(name="Nyby", areas=["Öster"])))
    assert response.status_code == 302
    town = Municipality.objects.get(name="Nyby")
    created = latest(Action.MUNICIPALITY_CREATED)
    assert (created.object_id, created.actor_username) == (str(town.pk), "admin")
    assert "own_consent_age" in created.purpose
    response = client.post("/admin/sspf/organisation/add/", {
        "name": "Nyby skola", "kind": "school", "municipality": town.pk})
    assert response.status_code == 302
    org = Organisation.objects.get(name="Nyby skola")
    assert latest(Action.ORGANISATION_CREATED).object_id == str(org.pk)


def test_an_organisations_kind_change_is_recorded_with_old_and_new(demo, client):
    school = demo["rektor2"].organisation
    log_in_verified(client, demo["admin"])
    response = client.post(f"/admin/sspf/organisation/{school.pk}/change/",
                           organisation_form(school, kind="other"))
    assert response.status_code == 302
    assert latest(Action.ORGANISATION_CHANGED).purpose == "kind: school → other"


def test_an_organisation_with_accounts_cannot_move_to_another_municipality(demo, client):
    social = demo["socialsekreterare"].organisation
    grannby = demo["koordinator2"].organisation.municipality
    log_in_verified(client, demo["admin"])

    response = client.post(f"/admin/sspf/organisation/{social.pk}/change/",
                           organisation_form(social, municipality=grannby.pk))

    assert response.status_code == 200
    assert "Organisationen har konton" in response.content.decode()
    social.refresh_from_db()
    assert social.municipality_id != grannby.pk
    assert latest(Action.ORGANISATION_CHANGED) is None
    social.municipality = grannby
    with pytest.raises(ValidationError) as exc:
        sspf_services.organisation_save(actor=demo["admin"], organisation=social)
    assert "municipality" in exc.value.message_dict


def test_an_organisation_named_in_consent_cannot_move(demo):
    elsa, admin = demo.cases["Elsa"], demo["admin"]
    grannby = demo["koordinator2"].organisation.municipality
    new_school = sspf_services.organisation_save(actor=admin, organisation=Organisation(
        name="Nya skolan", kind="school", municipality=elsa.municipality))
    assert sspf_services.organisation_move_refusal(new_school) is None
    consent_services.grant_record(
        user=demo["koordinator"], case_id=elsa.pk, giver_type="youth",
        organisations=[new_school.pk, demo["skolkurator"].organisation_id],
        categories=["school"], purpose="Skolbyte", form="written")

    assert "samtycke" in sspf_services.organisation_move_refusal(new_school)
    new_school.municipality = grannby
    with pytest.raises(ValidationError):
        sspf_services.organisation_save(actor=admin, organisation=new_school)
    new_school.refresh_from_db()
    assert new_school.municipality_id == elsa.municipality_id


@pytest.mark.parametrize("areas", ["5", '"Norr"', '{"Norr": 1}', '["Norr", ""]',
                                   '["Norr", 3]', '["Norr", "norr"]'])
def test_areas_must_be_a_list_of_distinct_names(demo, client, areas):
    """With areas = 5 every coordinator's case creation page in the municipality failed."""
    town = Municipality.objects.get(name="Demo")
    before = list(town.areas)
    log_in_verified(client, demo["admin"])
    response = client.post(f"/admin/sspf/municipality/{town.pk}/change/",
                           municipality_form(town, areas=areas))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["areas"]
    assert "område" in errors["areas"][0].lower()
    town.refresh_from_db()
    assert town.areas == before
    assert not AccessEvent.objects.filter(action=Action.MUNICIPALITY_CHANGED).exists()
