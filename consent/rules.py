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
current grant. A change of mind is recorded as a new grant, so a giver's most recently
*recorded* grant supersedes all their earlier ones whatever date it was given on: a
narrower grant dated back (a form signed last week, recorded today) must not leave the
older, wider one in force. It is their current grant if it is in force now: given,
valid through today and not withdrawn. Withdrawing the latest grant therefore leaves
the giver without consent: an older, broader grant never comes back by itself.
Withdrawal or expiry of any required giver's grant narrows the effective consent at
once; a required giver without a current grant means there is none, and so does an
intersection that leaves nothing to share (fewer than two organisations, or no
category).

A withdrawal stands whatever the settings say later. Who is a required giver depends
on the municipality's own-consent age, which an administrator can change; a giver who
withdrew must not lose that withdrawal because the setting moved (a 15-year-old who
withdrew, then an own-consent age raised to 16). So the givers whose grants decide the
effective consent (``binding_givers``) are the required ones and also every giver whose
latest grant is withdrawn, required or not (a young person below the own-consent age
who gave and then withdrew included), until that giver records a new grant. The one
exception is the law's, not a setting's: from 18 custody has ended (FB 6 kap. 2 §) and
a guardian's withdrawal no longer binds the young person, who then decides alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

# One way to count age for the whole project (the 29 February rule is in its docstring).
from sspf.personnummer import age_on

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
    # When it was recorded; None where only the record order (id) is known. A grant
    # recorded after ``now`` did not exist then, so it neither counts nor supersedes.
    recorded_at: datetime | None = None

    def withdrawn(self, now: datetime) -> bool:
        return self.withdrawn_at is not None and self.withdrawn_at <= now

    def in_force(self, now: datetime) -> bool:
        today = now.date()
        if self.withdrawn(now):
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


def binding_givers(*, required: list[Giver], grants: Iterable[Grant], now: datetime,
                   adult: bool) -> list[Giver]:
    """The givers whose grants decide the effective consent: the required ones and, after
    them, every other giver whose latest grant is withdrawn (see the module docstring);
    guardians only while the young person is under 18 (``adult`` False)."""
    standing = [giver for giver, grant in sorted(latest_grants(grants, now).items(),
                                                 key=lambda item: item[1].id)
                if giver not in required and grant.withdrawn(now)
                and not (adult and giver.type == "guardian")]
    return [*required, *standing]


def latest_grants(grants: Iterable[Grant], now: datetime) -> dict[Giver, Grant]:
    """Each giver's most recently recorded grant as of ``now``, in force or not. Ids
    are handed out in recording order, so the highest id is the latest change."""
    latest: dict[Giver, Grant] = {}
    for grant in sorted(grants, key=lambda g: g.id):
        if grant.recorded_at is None or grant.recorded_at <= now:
            latest[grant.giver] = grant
    return latest


def current_grants(grants: Iterable[Grant], now: datetime) -> dict[Giver, Grant]:
    """Each giver's latest grant, where it is in force."""
    latest = latest_grants(grants, now)
    return {giver: grant for giver, grant in latest.items() if grant.in_force(now)}


ACTIVE = "active"
PENDING = "pending"  # given on a later day than ``now``
EXPIRED = "expired"
WITHDRAWN = "withdrawn"
SUPERSEDED = "superseded"


def grant_status(grant: Grant, latest: dict[Giver, Grant], now: datetime) -> str:
    """What a grant is now, for its history: a withdrawal is shown even on a grant
    superseded since, because who withdrew and when is what the history must keep."""
    if grant.withdrawn(now):
        return WITHDRAWN
    if latest.get(grant.giver) is not grant:
        return SUPERSEDED
    if grant.valid_until < now.date():
        return EXPIRED
    if grant.given_on > now.date():
        return PENDING
    return ACTIVE


def withdrawable(grant: Grant, latest: dict[Giver, Grant], now: datetime) -> bool:
    """Only a giver's current grant can be withdrawn: withdrawing a superseded or ended
    grant would change nothing and would make the history say otherwise."""
    return grant_status(grant, latest, now) in (ACTIVE, PENDING)


# Why a case has no effective consent, in the order they are shown.
MISSING = "missing"
NO_COMMON_SCOPE = "no_common_scope"
GAPS = (MISSING, WITHDRAWN, EXPIRED, NO_COMMON_SCOPE)


def _intersection(grants: list[Grant]) -> Scope | None:
    organisations = frozenset.intersection(*(g.organisations for g in grants))
    categories = frozenset.intersection(*(g.categories for g in grants))
    # Sharing needs two organisations and something to share; anything less is no
    # consent at all, not an empty one that callers would have to tell apart.
    if len(organisations) < 2 or not categories:
        return None
    return Scope(organisations=organisations, categories=categories)


def effective_consent(*, required: list[Giver], grants: Iterable[Grant],
                      now: datetime) -> Scope | None:
    """The intersection of every required giver's current grant, or None when there is
    no required giver, one of them has no grant in force, or the grants have too little
    in common to share anything."""
    if not required:
        return None
    current = current_grants(grants, now)
    if any(giver not in current for giver in required):
        return None
    return _intersection([current[giver] for giver in required])


def consent_gaps(*, required: list[Giver], grants: Iterable[Grant],
                 now: datetime) -> list[str]:
    """Why there is no effective consent (empty when there is one): a required giver
    without a grant (or nobody who can consent yet), a required giver whose latest grant
    is withdrawn or has expired, or current grants with nothing in common."""
    if not required:
        return [MISSING]
    latest = latest_grants(grants, now)
    found = set()
    for giver in required:
        grant = latest.get(giver)
        status = PENDING if grant is None else grant_status(grant, latest, now)
        found.add({WITHDRAWN: WITHDRAWN, EXPIRED: EXPIRED, ACTIVE: None}.get(status, MISSING))
    found.discard(None)
    if not found and _intersection([latest[giver] for giver in required]) is None:
        found.add(NO_COMMON_SCOPE)
    return [gap for gap in GAPS if gap in found]
