"""consent.rules: who must consent, and the effective consent, as a table."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from consent.rules import (
    ACTIVE,
    EXPIRED,
    MISSING,
    NO_COMMON_SCOPE,
    SUPERSEDED,
    WITHDRAWN,
    Giver,
    Grant,
    Scope,
    binding_givers,
    consent_gaps,
    effective_consent,
    grant_status,
    latest_grants,
    required_givers,
    withdrawable,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
TODAY = NOW.date()
YOUTH, MUM, DAD = Giver.youth(), Giver.guardian(1), Giver.guardian(2)
ALL_ORGS = frozenset({10, 20, 30})
ALL_CATS = frozenset({"basic", "school", "social"})


def born_years_ago(years, days_after=0):
    return date(TODAY.year - years, TODAY.month, TODAY.day) + timedelta(days=days_after)


def grant(gid, giver, orgs=ALL_ORGS, cats=ALL_CATS, given=date(2026, 1, 1),
          until=date(2026, 12, 31), withdrawn=None):
    return Grant(id=gid, giver=giver, organisations=frozenset(orgs), categories=frozenset(cats),
                 given_on=given, valid_until=until, withdrawn_at=withdrawn)


@pytest.mark.parametrize(
    ("age", "custodians", "own_age", "expected"),
    [
        (13, [1, 2], 15, [MUM, DAD]),
        (14, [1], 15, [MUM]),
        (15, [1, 2], 15, [YOUTH, MUM, DAD]),
        (17, [1], 15, [YOUTH, MUM]),
        (17, [1], 18, [MUM]),  # a municipality that asks the youth only at 18
        (18, [1, 2], 15, [YOUTH]),
        (13, [], 15, []),  # nobody registered yet: nobody can consent
        (16, [], 15, []),  # not even the 16-year-old alone
    ],
)
def test_required_givers(age, custodians, own_age, expected):
    assert required_givers(birth_date=born_years_ago(age), custodian_ids=custodians,
                           own_consent_age=own_age, on=TODAY) == expected


def test_age_counts_from_the_birthday_itself():
    day_before_15th = born_years_ago(15, days_after=1)
    assert required_givers(birth_date=day_before_15th, custodian_ids=[1], own_consent_age=15,
                           on=TODAY) == [MUM]


def test_effective_is_the_intersection_of_all_required_givers():
    scope = effective_consent(
        required=[YOUTH, MUM, DAD],
        grants=[grant(1, YOUTH, orgs={10, 20, 30}, cats={"school", "social"}),
                grant(2, MUM, orgs={10, 20}, cats={"school", "social", "basic"}),
                grant(3, DAD, orgs={10, 20, 30}, cats={"school"})],
        now=NOW)
    assert scope == Scope(organisations=frozenset({10, 20}), categories=frozenset({"school"}))
    assert scope.allows(source_org=10, viewer_org=20, category="school")
    assert not scope.allows(source_org=10, viewer_org=30, category="school")
    assert not scope.allows(source_org=10, viewer_org=20, category="social")


@pytest.mark.parametrize(
    ("grants", "why"),
    [
        ([grant(1, MUM)], "one of two custodians has not consented"),
        ([grant(1, MUM), grant(2, DAD, until=date(2026, 11, 21))], "expired yesterday"),
        ([grant(1, MUM), grant(2, DAD, withdrawn=NOW - timedelta(minutes=1))], "withdrawn"),
        ([grant(1, MUM), grant(2, DAD, given=date(2026, 11, 23))], "given in the future"),
        ([grant(1, MUM), grant(2, Giver.guardian(9))], "a guardian without custody"),
        ([], "no grant at all"),
    ],
)
def test_no_effective_consent(grants, why):
    assert effective_consent(required=[MUM, DAD], grants=grants, now=NOW) is None, why


def test_no_required_giver_means_no_effective_consent():
    assert effective_consent(required=[], grants=[grant(1, YOUTH)], now=NOW) is None


def test_valid_through_the_last_day_and_withdrawal_later_today_still_counts():
    scope = effective_consent(
        required=[MUM],
        grants=[grant(1, MUM, until=TODAY, withdrawn=NOW + timedelta(hours=1))], now=NOW)
    assert scope is not None


def test_a_newer_grant_replaces_the_givers_older_one():
    older = grant(1, MUM, cats={"school", "social"}, given=date(2026, 1, 1))
    newer = grant(2, MUM, cats={"school"}, given=date(2026, 6, 1))
    scope = effective_consent(required=[MUM], grants=[newer, older], now=NOW)
    assert scope.categories == frozenset({"school"})


def test_withdrawing_the_newer_grant_does_not_revive_the_older_one():
    older = grant(1, MUM, cats={"school", "social"}, given=date(2026, 1, 1))
    newer = grant(2, MUM, cats={"school"}, given=date(2026, 6, 1), withdrawn=NOW)
    assert effective_consent(required=[MUM], grants=[older, newer], now=NOW) is None


@pytest.mark.parametrize("age", [13, 15, 17, 18])
def test_ages_table_with_two_custodians_and_partial_scopes(age):
    required = required_givers(birth_date=born_years_ago(age), custodian_ids=[1, 2],
                               own_consent_age=15, on=TODAY)
    grants = [grant(1, YOUTH, orgs={20, 30, 40}), grant(2, MUM, orgs={10, 20, 30, 40}),
              grant(3, DAD, orgs={10, 20, 30})]
    scope = effective_consent(required=required, grants=grants, now=NOW)
    expected = {13: {10, 20, 30}, 15: {20, 30}, 17: {20, 30}, 18: {20, 30, 40}}[age]
    assert scope.organisations == frozenset(expected)


@pytest.mark.parametrize(
    ("grants", "why"),
    [
        ([grant(1, MUM, orgs={10, 20}), grant(2, DAD, orgs={20, 30})], "one organisation"),
        ([grant(1, MUM, cats={"school"}), grant(2, DAD, cats={"social"})], "no category"),
    ],
)
def test_an_intersection_with_nothing_to_share_is_no_consent(grants, why):
    assert effective_consent(required=[MUM, DAD], grants=grants, now=NOW) is None, why
    assert consent_gaps(required=[MUM, DAD], grants=grants, now=NOW) == [NO_COMMON_SCOPE]


def test_the_latest_recorded_grant_counts_even_when_dated_back():
    wide = grant(1, MUM, cats={"school", "social"}, given=date(2026, 11, 1))
    narrower_dated_back = grant(2, MUM, cats={"school"}, given=date(2026, 10, 1))
    scope = effective_consent(required=[MUM], grants=[narrower_dated_back, wide], now=NOW)
    assert scope.categories == frozenset({"school"})
    latest = latest_grants([wide, narrower_dated_back], NOW)
    assert grant_status(wide, latest, NOW) == SUPERSEDED
    assert not withdrawable(wide, latest, NOW)
    assert withdrawable(narrower_dated_back, latest, NOW)


def test_a_grant_recorded_after_now_neither_counts_nor_supersedes():
    earlier = Grant(id=1, giver=MUM, organisations=ALL_ORGS, categories=ALL_CATS,
                    given_on=date(2026, 1, 1), valid_until=date(2026, 12, 31),
                    recorded_at=NOW - timedelta(days=30))
    later = Grant(id=2, giver=MUM, organisations=ALL_ORGS, categories=frozenset({"basic"}),
                  given_on=date(2026, 1, 1), valid_until=date(2026, 12, 31),
                  recorded_at=NOW + timedelta(days=1))
    scope = effective_consent(required=[MUM], grants=[earlier, later], now=NOW)
    assert scope.categories == ALL_CATS


@pytest.mark.parametrize(
    ("mums", "expected"),
    [
        ([grant(1, MUM)], ACTIVE),
        ([grant(1, MUM, until=TODAY - timedelta(days=1))], EXPIRED),
        ([grant(1, MUM, withdrawn=NOW - timedelta(hours=1))], WITHDRAWN),
        ([grant(1, MUM, withdrawn=NOW - timedelta(hours=1)), grant(2, MUM)], WITHDRAWN),
        ([grant(1, MUM, until=TODAY - timedelta(days=1)), grant(2, MUM)], SUPERSEDED),
    ],
)
def test_history_status_of_the_first_grant(mums, expected):
    assert grant_status(mums[0], latest_grants(mums, NOW), NOW) == expected


@pytest.mark.parametrize(
    ("required", "grants", "gaps"),
    [
        ([MUM, DAD], [grant(1, MUM), grant(2, DAD)], []),
        ([MUM, DAD], [grant(1, MUM)], [MISSING]),  # e.g. a custodian registered later
        ([], [grant(1, YOUTH)], [MISSING]),  # nobody registered who can consent
        ([MUM, DAD], [grant(1, MUM), grant(2, DAD, withdrawn=NOW)], [WITHDRAWN]),
        ([MUM, DAD], [grant(1, MUM), grant(2, DAD, until=TODAY - timedelta(days=1))],
         [EXPIRED]),
        ([YOUTH, MUM, DAD], [grant(1, MUM, withdrawn=NOW),
                             grant(2, DAD, until=TODAY - timedelta(days=1))],
         [MISSING, WITHDRAWN, EXPIRED]),
    ],
)
def test_why_there_is_no_effective_consent(required, grants, gaps):
    assert consent_gaps(required=required, grants=grants, now=NOW) == gaps
    assert (effective_consent(required=required, grants=grants, now=NOW) is None) == bool(gaps)


@pytest.mark.django_db
def test_consent_categories_are_the_entry_categories():
    from cases.models import Entry
    from consent.rules import CATEGORIES

    assert list(CATEGORIES) == list(Entry.Category.values)


# --- A withdrawal stands whatever the settings say later ------------------------------


WITHDRAWN_YOUTH = grant(3, YOUTH, withdrawn=NOW - timedelta(days=1))
BOTH_GUARDIANS = [grant(1, MUM), grant(2, DAD)]


@pytest.mark.parametrize(
    ("age", "own_age", "custodians", "grants", "binding", "effective"),
    [
        # The young person (15) withdrew; the own-consent age was then raised to 16: the
        # guardians' grants alone must not make the consent effective again.
        (15, 16, (1, 2), [*BOTH_GUARDIANS, WITHDRAWN_YOUTH], [MUM, DAD, YOUTH], False),
        # A young person below the own-consent age who gave and then withdrew.
        (13, 15, (1, 2), [*BOTH_GUARDIANS, WITHDRAWN_YOUTH], [MUM, DAD, YOUTH], False),
        # A new grant by the same giver lifts the withdrawal; a giver who is not required
        # and has not withdrawn does not take part.
        (13, 15, (1, 2), [*BOTH_GUARDIANS, WITHDRAWN_YOUTH, grant(4, YOUTH)], [MUM, DAD],
         True),
        (13, 15, (1, 2), [*BOTH_GUARDIANS, grant(4, YOUTH, orgs={10})], [MUM, DAD], True),
        # The required giver's own withdrawal is counted once, as a required giver.
        (16, 15, (1, 2), [*BOTH_GUARDIANS, WITHDRAWN_YOUTH], [YOUTH, MUM, DAD], False),
        # A guardian who withdrew and is no longer registered as a custodian.
        (14, 15, (1,), [grant(1, MUM), grant(2, DAD, withdrawn=NOW - timedelta(days=1))],
         [MUM, DAD], False),
        # From 18 custody has ended by law: a guardian's withdrawal no longer binds.
        (18, 15, (1, 2), [grant(2, DAD, withdrawn=NOW - timedelta(days=1)), grant(3, YOUTH)],
         [YOUTH], True),
    ],
    ids=["own-consent age raised after withdrawal", "youth below the age withdrew",
         "youth's new grant lifts it", "a non-required giver's grant does not narrow",
         "required youth withdrew", "guardian no longer a custodian withdrew",
         "adult: a guardian's withdrawal ended with custody"],
)
def test_a_withdrawal_stands_whatever_the_settings_say_later(age, own_age, custodians, grants,
                                                             binding, effective):
    required = required_givers(birth_date=born_years_ago(age), custodian_ids=custodians,
                               own_consent_age=own_age, on=TODAY)
    givers = binding_givers(required=required, grants=grants, now=NOW, adult=age >= 18)
    assert givers == binding
    scope = effective_consent(required=givers, grants=grants, now=NOW)
    assert (scope is not None) == effective
    if not effective:
        assert WITHDRAWN in consent_gaps(required=givers, grants=grants, now=NOW)
