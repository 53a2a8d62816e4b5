"""The authorization matrix: every URL pattern of the project, every demo role, an
anonymous visitor and a coordinator of another municipality, each with the expected
status. A denied response must carry none of the case's personal data.

Requests that would change data use input the service refuses after the policy
check (400 for whoever passes the policy), so one seeded world serves every row.
A new URL pattern fails ``test_every_url_pattern_is_in_the_matrix`` until it has
its row here.
"""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.conftest import log_in_verified, personal_strings

pytestmark = pytest.mark.django_db

ANON = "anonymous"
OTHER = "koordinator2"  # coordinator in Grannby
ELSA_TEAM = {"koordinator", "skolkurator", "socialsekreterare", "fritidsledare"}
EVERYONE = ["koordinator", "socialsekreterare", "skolkurator", "rektor2", "fritidsledare",
            "polis", "revisor", "analytiker", "admin", OTHER]


def by_role(default, **overrides):
    table = {name: default for name in EVERYONE}
    table.update(overrides)
    return table


def team(member, lead=None, others=404, anonymous=302):
    """Statuses for a URL inside Elsa's case: the lead coordinator, the other members,
    everyone else (not on the team, another municipality, non-case roles)."""
    table = {name: others for name in EVERYONE}
    for name in ELSA_TEAM:
        table[name] = member
    if lead is not None:
        table["koordinator"] = lead
    table[ANON] = anonymous
    return table


PAGE = "page"
API = "api"

# route -> (kind, method, path template, body, statuses)
MATRIX = {
    "": (PAGE, "get", "/", None, by_role(200, **{ANON: 302})),
    "login/": (PAGE, "get", "/login/", None, by_role(200, **{ANON: 200})),
    "login/tvasteg/": (PAGE, "get", "/login/tvasteg/", None, by_role(302, **{ANON: 302})),
    "login/aktivera-tvasteg/": (PAGE, "get", "/login/aktivera-tvasteg/", None,
                                by_role(302, **{ANON: 302})),
    "logout/": (PAGE, "post", "/logout/", {}, by_role(302, **{ANON: 302})),
    "admin/login/": (PAGE, "get", "/admin/login/", None, by_role(302, **{ANON: 302})),
    "profil/": (PAGE, "get", "/profil/", None, by_role(200, **{ANON: 302})),
    "notiser/lasta/": (PAGE, "post", "/notiser/lasta/", {}, by_role(302, **{ANON: 302})),
    "sprak/": (PAGE, "post", "/sprak/", {"language": "en", "next": "/"},
               by_role(302, **{ANON: 302})),
    "api/schema/": (PAGE, "get", "/api/schema/", None, by_role(200, **{ANON: 302})),
    "api/docs/": (PAGE, "get", "/api/docs/", None, by_role(200, **{ANON: 302})),
    "arenden/": (PAGE, "get", "/arenden/", None, by_role(200, **{ANON: 302})),
    "arenden/nytt/": (PAGE, "get", "/arenden/nytt/", None,
                      by_role(403, koordinator=200, koordinator2=200, **{ANON: 302})),
    "arenden/<int:case_id>/": (PAGE, "get", "/arenden/{case}/", None, team(200)),
    "arenden/<int:case_id>/andra/": (PAGE, "get", "/arenden/{case}/andra/", None,
                                     team(403, lead=200)),
    "arenden/<int:case_id>/team/": (PAGE, "post", "/arenden/{case}/team/",
                                    {"username": "", "version": "1"}, team(403, lead=302)),
    "arenden/<int:case_id>/team/<str:username>/ta-bort/": (
        PAGE, "post", "/arenden/{case}/team/nobody/ta-bort/", {"version": "1"},
        team(403, lead=302)),
    "arenden/<int:case_id>/vardnadshavare/ny/": (
        PAGE, "get", "/arenden/{case}/vardnadshavare/ny/", None, team(403, lead=200)),
    "arenden/<int:case_id>/anteckningar/ny/": (
        PAGE, "get", "/arenden/{case}/anteckningar/ny/", None, team(200)),
    "arenden/<int:case_id>/samtycken/": (PAGE, "get", "/arenden/{case}/samtycken/", None,
                                         team(200)),
    "arenden/<int:case_id>/samtycken/nytt/": (PAGE, "get", "/arenden/{case}/samtycken/nytt/",
                                              None, team(403, lead=200)),
    "samtycken/<int:grant_id>/aterkalla/": (PAGE, "get", "/samtycken/{grant}/aterkalla/", None,
                                            team(403, lead=200)),
    "samtycken/<int:grant_id>/blankett/": (PAGE, "get", "/samtycken/{grant}/blankett/", None,
                                           team(403, lead=404)),  # the grant has no form
    # --- API v1 (token) ---
    "api/v1/me/": (API, "get", "/api/v1/me/", None, by_role(200, **{ANON: 401})),
    "api/v1/organisations/": (API, "get", "/api/v1/organisations/", None,
                              by_role(200, **{ANON: 401})),
    "api/v1/cases/": (API, "post", "/api/v1/cases/", {},
                      by_role(403, koordinator=400, koordinator2=400, **{ANON: 401})),
    "api/v1/cases/search/": (API, "post", "/api/v1/cases/search/", {"personnummer": "x"},
                             by_role(400, **{ANON: 401})),
    "api/v1/cases/<int:case_id>/": (API, "get", "/api/v1/cases/{case}/", None,
                                    team(200, anonymous=401)),
    "api/v1/cases/<int:case_id>/members/": (API, "post", "/api/v1/cases/{case}/members/",
                                            {"username": ""},
                                            team(403, lead=400, anonymous=401)),
    "api/v1/cases/<int:case_id>/members/<str:username>/": (
        API, "delete", "/api/v1/cases/{case}/members/nobody/", None,
        team(403, lead=400, anonymous=401)),
    "api/v1/cases/<int:case_id>/guardians/": (API, "get", "/api/v1/cases/{case}/guardians/",
                                              None, team(200, anonymous=401)),
    "api/v1/cases/<int:case_id>/entries/": (API, "get", "/api/v1/cases/{case}/entries/", None,
                                            team(200, anonymous=401)),
    "api/v1/cases/<int:case_id>/consents/": (API, "get", "/api/v1/cases/{case}/consents/", None,
                                             team(200, anonymous=401)),
    "api/v1/cases/<int:case_id>/consent-status/": (
        API, "get", "/api/v1/cases/{case}/consent-status/", None, team(200, anonymous=401)),
    "^api/(?!schema/$|docs/$)": (API, "get", "/api/v1/finns-inte/", None,
                                 by_role(404, **{ANON: 401})),
    "arenden/<int:case_id>/kartlaggning/": (PAGE, "get", "/arenden/{case}/kartlaggning/",
                                            None, team(200)),
    "arenden/<int:case_id>/kartlaggning/ny/": (
        PAGE, "get", "/arenden/{case}/kartlaggning/ny/", None, team(200)),
    # no versions named: the member is sent back to the list with the message
    "arenden/<int:case_id>/kartlaggning/jamfor/": (
        PAGE, "get", "/arenden/{case}/kartlaggning/jamfor/", None, team(302)),
    "api/v1/cases/<int:case_id>/assessments/": (
        API, "get", "/api/v1/cases/{case}/assessments/", None, team(200, anonymous=401)),
    "api/v1/cases/<int:case_id>/assessments/compare/": (
        API, "get", "/api/v1/cases/{case}/assessments/compare/", None,
        team(400, anonymous=401)),
    "arenden/<int:case_id>/moten/ny/": (PAGE, "get", "/arenden/{case}/moten/ny/", None,
                                        team(403, lead=200)),
    "api/v1/cases/<int:case_id>/meetings/": (
        API, "get", "/api/v1/cases/{case}/meetings/", None, team(200, anonymous=401)),
    "arenden/<int:case_id>/plan/": (PAGE, "get", "/arenden/{case}/plan/", None,
                                    team(403, lead=200)),
    "arenden/<int:case_id>/plan/overens/": (PAGE, "post", "/arenden/{case}/plan/overens/", {},
                                            team(403, lead=302)),
    "arenden/<int:case_id>/ataganden/ny/": (PAGE, "get", "/arenden/{case}/ataganden/ny/",
                                            None, team(403, lead=200)),
    "ataganden/<int:commitment_id>/status/": (
        PAGE, "post", "/ataganden/{commitment}/status/", {},
        by_role(404, koordinator=302, skolkurator=302, **{ANON: 302})),
    "arenden/<int:case_id>/uppfoljningar/ny/": (
        PAGE, "get", "/arenden/{case}/uppfoljningar/ny/", None, team(403, lead=200)),
    "api/v1/cases/<int:case_id>/plan/": (API, "get", "/api/v1/cases/{case}/plan/", None,
                                         team(200, anonymous=401)),
    # no plan yet: the lead is told to write its goals first
    "api/v1/cases/<int:case_id>/plan/agree/": (
        API, "post", "/api/v1/cases/{case}/plan/agree/", {},
        team(403, lead=400, anonymous=401)),
    "api/v1/cases/<int:case_id>/commitments/": (
        API, "get", "/api/v1/cases/{case}/commitments/", None, team(200, anonymous=401)),
    # the school's commitment: seen by the school and the coordinators (no consent)
    "api/v1/commitments/<int:commitment_id>/": (
        API, "patch", "/api/v1/commitments/{commitment}/", {},
        by_role(404, koordinator=400, skolkurator=400, **{ANON: 401})),
    "api/v1/cases/<int:case_id>/follow-ups/": (
        API, "get", "/api/v1/cases/{case}/follow-ups/", None, team(200, anonymous=401)),
    "api/v1/follow-ups/due/": (API, "get", "/api/v1/follow-ups/due/", None,
                               by_role(200, **{ANON: 401})),
    "arenden/<int:case_id>/tidslinje/": (PAGE, "get", "/arenden/{case}/tidslinje/", None,
                                         team(200)),
    "arenden/<int:case_id>/status/": (PAGE, "post", "/arenden/{case}/status/", {},
                                      team(403, lead=302)),
    "arenden/<int:case_id>/avsluta/": (PAGE, "get", "/arenden/{case}/avsluta/", None,
                                       team(403, lead=200)),
    # the case is open: there is nothing to reopen, for the lead either
    "arenden/<int:case_id>/oppna-igen/": (PAGE, "get", "/arenden/{case}/oppna-igen/", None,
                                          team(403)),
    "signaler/": (PAGE, "get", "/signaler/", None, by_role(200, **{ANON: 302})),
    "signaler/ny/": (PAGE, "get", "/signaler/ny/", None,
                     by_role(200, revisor=403, analytiker=403, admin=403, **{ANON: 302})),
    # the signal is skolkurator's, about Elsa, in koordinator's municipality
    "signaler/<int:signal_id>/": (PAGE, "get", "/signaler/{signal}/", None,
                                  by_role(404, koordinator=200, skolkurator=200,
                                          **{ANON: 302})),
    "signaler/<int:signal_id>/hantera/": (PAGE, "post", "/signaler/{signal}/hantera/", {},
                                          by_role(404, koordinator=400, skolkurator=403,
                                                  **{ANON: 302})),
    "api/v1/signals/": (API, "get", "/api/v1/signals/", None, by_role(200, **{ANON: 401})),
    "api/v1/signals/<int:signal_id>/": (API, "get", "/api/v1/signals/{signal}/", None,
                                        by_role(404, koordinator=200, skolkurator=200,
                                                **{ANON: 401})),
    "api/v1/signals/<int:signal_id>/triage/": (
        API, "post", "/api/v1/signals/{signal}/triage/", {},
        by_role(404, koordinator=400, skolkurator=403, **{ANON: 401})),
    "api/v1/cases/<int:case_id>/status/": (API, "post", "/api/v1/cases/{case}/status/", {},
                                           team(403, lead=400, anonymous=401)),
    "api/v1/cases/<int:case_id>/close/": (API, "post", "/api/v1/cases/{case}/close/", {},
                                          team(403, lead=400, anonymous=401)),
    "api/v1/cases/<int:case_id>/reopen/": (API, "post", "/api/v1/cases/{case}/reopen/", {},
                                           team(403, anonymous=401)),
    "api/v1/cases/<int:case_id>/timeline/": (API, "get", "/api/v1/cases/{case}/timeline/",
                                             None, team(200, anonymous=401)),
    "api/v1/consents/<int:grant_id>/withdraw/": (
        API, "post", "/api/v1/consents/{grant}/withdraw/", {},
        team(403, lead=400, anonymous=401)),
}

# Further methods on the same patterns, with the same rule: who passes the policy gets
# 400 from the refused input, who does not gets 403/404.
EXTRA = [
    (API, "get", "/api/v1/cases/", None, by_role(200, **{ANON: 401})),
    (API, "patch", "/api/v1/cases/{case}/", {}, team(403, lead=400, anonymous=401)),
    (API, "post", "/api/v1/cases/{case}/guardians/", {}, team(403, lead=400, anonymous=401)),
    (API, "post", "/api/v1/cases/{case}/entries/", {}, team(400, anonymous=401)),
    (API, "post", "/api/v1/cases/{case}/consents/", {}, team(403, lead=400, anonymous=401)),
    (PAGE, "post", "/arenden/{case}/samtycken/nytt/", {}, team(403, lead=400)),
    (PAGE, "post", "/samtycken/{grant}/aterkalla/", {}, team(403, lead=400)),
    (PAGE, "post", "/samtycken/{grant}/blankett/", {}, team(403, lead=400)),
    (PAGE, "post", "/arenden/{case}/anteckningar/ny/", {}, team(400)),
    (PAGE, "post", "/arenden/{case}/vardnadshavare/ny/", {}, team(403, lead=400)),
    (PAGE, "post", "/arenden/{case}/andra/", {}, team(403, lead=400)),
    (PAGE, "post", "/arenden/", {"personnummer": "x"}, by_role(400, **{ANON: 302})),
    (PAGE, "post", "/arenden/nytt/", {},
     by_role(403, koordinator=400, koordinator2=400, **{ANON: 302})),
    (PAGE, "post", "/arenden/{case}/avsluta/", {}, team(403, lead=400)),
    (PAGE, "post", "/arenden/{case}/kartlaggning/ny/", {}, team(400)),
    (API, "put", "/api/v1/cases/{case}/plan/", {}, team(403, lead=400, anonymous=401)),
    (PAGE, "post", "/arenden/{case}/plan/", {}, team(403, lead=400)),
    (PAGE, "post", "/arenden/{case}/moten/ny/", {}, team(403, lead=400)),
    (API, "post", "/api/v1/cases/{case}/meetings/", {}, team(403, lead=400, anonymous=401)),
    (PAGE, "post", "/arenden/{case}/ataganden/ny/", {}, team(403, lead=400)),
    (PAGE, "post", "/arenden/{case}/uppfoljningar/ny/", {}, team(403, lead=400)),
    (API, "post", "/api/v1/cases/{case}/commitments/", {}, team(403, lead=400, anonymous=401)),
    (API, "post", "/api/v1/cases/{case}/follow-ups/", {}, team(403, lead=400, anonymous=401)),
    (API, "post", "/api/v1/cases/{case}/assessments/", {}, team(400, anonymous=401)),
    (PAGE, "post", "/arenden/{case}/oppna-igen/", {}, team(403)),
    (PAGE, "post", "/signaler/ny/", {},
     by_role(400, revisor=403, analytiker=403, admin=403, **{ANON: 302})),
    (PAGE, "get", "/signaler/{signal}/hantera/", None,
     by_role(404, koordinator=302, skolkurator=403, **{ANON: 302})),
    (API, "post", "/api/v1/signals/", {},
     by_role(400, revisor=403, analytiker=403, admin=403, **{ANON: 401})),
]


def _routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if getattr(p, "namespace", None) == "admin":
                    continue  # the admin is covered by test_admin_*
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return set(walk(get_resolver().url_patterns))


def test_every_url_pattern_is_in_the_matrix():
    assert _routes() == set(MATRIX), (
        "URL patterns without a row in the matrix: "
        f"{sorted(_routes() - set(MATRIX))}; rows without a pattern: "
        f"{sorted(set(MATRIX) - _routes())}"
    )


def _client(kind, who, demo, api_client):
    if who == ANON:
        return APIClient() if kind == API else None
    user = demo[who]
    if kind == API:
        return api_client(user)
    return None


def _request(kind, method, path, body, who, demo, api_client, client):
    if kind == API:
        api = _client(kind, who, demo, api_client)
        data = json.dumps(body) if body is not None else None
        return getattr(api, method)(path, data=data, content_type="application/json")
    client.logout()
    if who != ANON:
        log_in_verified(client, demo[who])
    if method == "get":
        return client.get(path)
    return client.post(path, body or {})


def _narrow_grant(demo, case):
    """A grant to withdraw, scoped so that it lets no demo entry cross."""
    from consent.services import grant_record

    return grant_record(user=demo["koordinator"], case_id=case.pk, giver_type="youth",
                        organisations=[demo["polis"].organisation_id,
                                       demo["fritidsledare"].organisation_id],
                        categories=["health"], purpose="Matris", form="written")


def _signal(demo):
    """A signal about Elsa raised by the school counsellor on her team."""
    from cases.services import signal_raise

    return signal_raise(user=demo["skolkurator"], personnummer=demo.pnr["Elsa"],
                        concerns=["absence"], text="Matrisens orosignal")


def _commitment(demo):
    """A commitment of the school on Elsa's case, the counsellor responsible."""
    from datetime import timedelta

    from django.utils import timezone

    from cases.services import commitment_add

    return commitment_add(user=demo["koordinator"], case_id=demo.cases["Elsa"].pk,
                          organisation=demo["skolkurator"].organisation_id,
                          responsible="skolkurator", description="Matrisens åtagande",
                          due_on=timezone.localdate() + timedelta(days=7))


ROWS = [(route, *row) for route, row in MATRIX.items()] + [
    (f"{row[1].upper()} {row[2]}", *row) for row in EXTRA
]


def _entries_hidden_from(demo, case) -> dict[str, list[str]]:
    """For each team member, the texts of the case's entries the policy keeps from them
    (another organisation's, without consent or a statutory basis naming theirs)."""
    from cases import policy
    from cases.models import Entry

    every = {e.pk: e.text[:30] for e in Entry.objects.filter(case=case)}
    return {who: [text for pk, text in every.items() if pk not in set(
        policy.visible_entries(demo[who], case).values_list("pk", flat=True))]
        for who in ELSA_TEAM}


@pytest.mark.parametrize(
    ("label", "kind", "method", "template", "body", "statuses"), ROWS,
    ids=[r[0] or "/" for r in ROWS],
)
def test_matrix(label, kind, method, template, body, statuses, demo, api_client, client):
    elsa = demo.cases["Elsa"]
    secrets = personal_strings(elsa)
    hidden = _entries_hidden_from(demo, elsa)
    grant_id = _narrow_grant(demo, elsa).pk if "{grant}" in template else None
    signal_id = _signal(demo).pk if "{signal}" in template else None
    commitment_id = _commitment(demo).pk if "{commitment}" in template else None
    path = template.format(case=elsa.pk, grant=grant_id, signal=signal_id,
                           commitment=commitment_id)
    for who in [*EVERYONE, ANON]:
        expected = statuses[who]
        response = _request(kind, method, path, body, who, demo, api_client, client)
        assert response.status_code == expected, f"{who} {method.upper()} {path}"
        body_text = response.content.decode(errors="replace")
        if expected in (401, 403, 404) or who not in ELSA_TEAM:
            leaked = [s for s in secrets if s and s in body_text]
        else:  # a member sees the case, but never the entries kept from them
            leaked = [s for s in hidden[who] if s in body_text]
        assert leaked == [], f"{who} {method.upper()} {path} leaked {leaked}"


def test_every_team_member_has_entries_kept_from_them(demo):
    """The matrix's check of what members see has something to find."""
    assert all(_entries_hidden_from(demo, demo.cases["Elsa"]).values())


def test_denials_are_recorded_with_the_case_id(demo, api_client):
    from audit.models import AccessEvent

    elsa = demo.cases["Elsa"]
    api_client(demo["rektor2"]).get(f"/api/v1/cases/{elsa.pk}/entries/")
    api_client(demo["skolkurator"]).post(
        f"/api/v1/cases/{elsa.pk}/members/", {"username": "rektor2"}, format="json"
    )
    denied = list(AccessEvent.objects.filter(action="denied").order_by("id"))
    assert [(e.actor_username, e.object_type, e.object_id, e.case_id) for e in denied] == [
        ("rektor2", "cases.Case", str(elsa.pk), elsa.pk),
        ("skolkurator", "cases.Case", str(elsa.pk), elsa.pk),
    ]
    assert all(e.outcome == "denied" for e in denied)


def test_a_school_cannot_reach_another_schools_entries_by_any_url(demo, api_client, client):
    """rektor2 works at Ängabyskolan; Elsa's school entries come from Kvarnbackaskolan."""
    elsa = demo.cases["Elsa"]
    secrets = personal_strings(elsa)
    api = api_client(demo["rektor2"])
    log_in_verified(client, demo["rektor2"])
    responses = [api.get(f"/api/v1/cases/{elsa.pk}/{tail}") for tail in
                 ("", "entries/", "guardians/")]
    responses.append(api.post("/api/v1/cases/search/", {"personnummer": demo.pnr["Elsa"]},
                              format="json"))
    responses.append(api.get("/api/v1/cases/"))
    responses += [client.get(f"/arenden/{elsa.pk}/{tail}") for tail in
                  ("", "anteckningar/ny/", "andra/", "vardnadshavare/ny/")]
    responses.append(client.post("/arenden/", {"personnummer": demo.pnr["Elsa"]}))
    responses.append(client.get("/arenden/"))
    responses.append(client.get("/"))
    for response in responses:
        assert response.status_code in (200, 404)
        text = response.content.decode()
        assert [s for s in secrets if s in text] == []


def test_a_school_on_the_team_reaches_another_schools_entries_only_with_consent(
        demo, api_client, client):
    """rektor2 (Ängabyskolan) joins Elsa's team: Kvarnbackaskolan's entries stay out of
    every page and API answer until the consent covers both schools."""
    from cases import services as case_services
    from cases.models import Entry
    from consent import services as consent_services

    elsa, lead = demo.cases["Elsa"], demo["koordinator"]
    case_services.member_add(user=lead, case_id=elsa.pk, username="rektor2")
    kvarnbacka = [e.text[:30] for e in Entry.objects.filter(
        case=elsa, source_org=demo["skolkurator"].organisation)]
    api = api_client(demo["rektor2"])
    log_in_verified(client, demo["rektor2"])

    def everything():
        case = f"/api/v1/cases/{elsa.pk}/"
        answers = [api.get(case + tail) for tail in
                   ("", "entries/", "guardians/", "consents/", "consent-status/")]
        answers += [api.get("/api/v1/cases/"),
                    api.post("/api/v1/cases/search/", {"personnummer": demo.pnr["Elsa"]},
                             format="json")]
        answers += [client.get(f"/arenden/{elsa.pk}/{tail}") for tail in ("", "samtycken/")]
        answers += [client.get("/"), client.get("/arenden/"),
                    client.post("/arenden/", {"personnummer": demo.pnr["Elsa"]})]
        assert all(a.status_code == 200 for a in answers)
        return " ".join(a.content.decode() for a in answers)

    seen = everything()
    assert [t for t in kvarnbacka if t in seen] == []

    schools = [demo["skolkurator"].organisation_id, demo["rektor2"].organisation_id]
    for guardian in [None, *elsa.youth.guardians.filter(custodian=True)]:
        consent_services.grant_record(
            user=lead, case_id=elsa.pk, giver_type="guardian" if guardian else "youth",
            guardian_id=guardian.pk if guardian else None, organisations=schools,
            categories=["school"], purpose="Skolbyte", form="written")
    seen = everything()
    assert all(t in seen for t in kvarnbacka)


def test_admin_lists_no_personal_models():
    from cases import models as case_models

    personal = {case_models.Youth, case_models.Guardian, case_models.Case,
                case_models.CaseMember, case_models.Entry}
    assert personal.isdisjoint(admin.site._registry)


def test_admin_is_for_administrators_only(demo, client):
    for who in EVERYONE:
        client.logout()
        log_in_verified(client, demo[who])
        response = client.get("/admin/")
        if who == "admin":
            assert response.status_code == 200
        else:
            assert response.status_code == 302, who
            assert "/admin/login/" in response["Location"]
