"""Who must consent, and what the consent in force allows. Pure functions over plain
values: no database, no clock of their own (the caller passes ``now``).

The rule (offentlighets- och sekretesslagen 2009:400, 12 kap., as SSPF applies it):
information of a category
may flow from organisation S to organisation V about a young person only with the
consent of every required giver:
- under 18, each guardian with custody (vårdnadshavare) must consent;
- from the municipality's own-consent age (default 15) the young person must consent
  too; from 18 only the young person.
The *effective consent* is the intersection of the scopes of every required giver's
current grant. A giver's latest grant (by date given, then record order, among those
given on or before today) supersedes all their earlier ones; it is their current grant
if it is in force now: valid through today and not withdrawn. Withdrawing the latest
grant therefore leaves the giver without consent: an older, broader grant never comes
back by itself. Withdrawal or expiry of any required giver's grant narrows the effective
consent at once; a required giver without a current grant means there is none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

ADULT_AGE = 18
CATEGORIES = ("basic", "school", "social", "police", "leisure", "health")


@dataclass(frozen=True)
class Giver:
    type: str  # "youth" or "guardian"
    id: int | None = None  # the guardian's id; None for the young person

    @classmethod
    def youth(cls) -> Giver:
        return cls("youth", None)

    @classmethod
    def guardian(cls, guardian_id: int) -> Giver:
        return cls("guardian", guardian_id)


@dataclass(frozen=True)
class Grant:
    id: int
    giver: Giver
    organisations: frozenset[int]
    categories: frozenset[str]
    given_on: date
    valid_until: date
    withdrawn_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        today = now.date()
        if self.withdrawn_at is not None and self.withdrawn_at <= now:
            return False
        return self.given_on <= today <= self.valid_until


@dataclass(frozen=True)
class Scope:
    organisations: frozenset[int]
    categories: frozenset[str]

    def allows(self, *, source_org: int, viewer_org: int, category: str) -> bool:
        return (
            source_org in self.organisations
            and viewer_org in self.organisations
            and category in self.categories
        )


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def required_givers(*, birth_date: date, custodian_ids: Iterable[int], own_consent_age: int,
                    on: date) -> list[Giver]:
    age = age_on(birth_date, on)
    if age >= ADULT_AGE:
        return [Giver.youth()]
    givers = [Giver.guardian(g) for g in sorted(set(custodian_ids))]
    if not givers:
        # Under 18 someone has custody; until they are registered nobody can consent,
        # so the young person's own grant never opens sharing alone.
        return []
    if age >= own_consent_age:
        givers.insert(0, Giver.youth())
    return givers


def latest_grants(grants: Iterable[Grant], today: date) -> dict[Giver, Grant]:
    """Each giver's latest grant given on or before ``today``, in force or not."""
    latest: dict[Giver, Grant] = {}
    for grant in sorted(grants, key=lambda g: (g.given_on, g.id)):
        if grant.given_on <= today:
            latest[grant.giver] = grant
    return latest


def current_grants(grants: Iterable[Grant], now: datetime) -> dict[Giver, Grant]:
    """Each giver's latest grant, where it is in force."""
    latest = latest_grants(grants, now.date())
    return {giver: grant for giver, grant in latest.items() if grant.in_force(now)}


def effective_consent(*, required: list[Giver], grants: Iterable[Grant],
                      now: datetime) -> Scope | None:
    """The intersection of every required giver's current grant, or None when there is
    no required giver or one of them has no grant in force."""
    if not required:
        return None
    current = current_grants(grants, now)
    scopes = []
    for giver in required:
        grant = current.get(giver)
        if grant is None:
            return None
        scopes.append(grant)
    organisations = frozenset.intersection(*(g.organisations for g in scopes))
    categories = frozenset.intersection(*(g.categories for g in scopes))
    return Scope(organisations=organisations, categories=categories)
