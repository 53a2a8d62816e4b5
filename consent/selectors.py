"""Reads of consent: a case's grants and its consent status, through the policy and
recorded like every read of personal data.

Consent pages show people by name only: the young person's and the guardians' address
and phone are withheld from what is read here for every reader, so they never reach a
template. The read models' reprs name ids only (they end up in logs and tracebacks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

import audit
from audit.models import Action
from cases import policy
from cases.models import Case, CaseMember, Entry, Guardian
from cases.selectors import StartSection, TimelineEvent
from consent import enforcement, rules, services
from consent.models import ConsentDocument, ConsentGrant


@dataclass(frozen=True, repr=False)
class HistoryRow:
    """One grant as the history shows it, with names resolved and the status of now."""

    id: int
    giver: str
    organisations: list[str]
    categories: list[str]
    purpose: str
    form: str
    given_on: date
    valid_until: date
    recorded_by: str
    recorded_at: datetime
    status: str  # one of the rules.* grant statuses
    status_label: str
    withdrawn_at: datetime | None
    withdrawn_by: str
    withdrawal_reason: str  # empty unless the reader records consent on the case
    withdrawable: bool  # by this reader: they record consent, and it is the current grant
    has_document: bool

    def __repr__(self) -> str:
        return f"HistoryRow(id={self.id})"


STATUS_LABELS = {
    rules.ACTIVE: _("Gäller"),
    rules.PENDING: _("Gäller ännu inte"),
    rules.EXPIRED: _("Har gått ut"),
    rules.WITHDRAWN: _("Återkallat"),
    rules.SUPERSEDED: _("Ersatt av ett senare samtycke"),
}


@dataclass(repr=False)
class ConsentOverview:
    case: Case
    grants: list[ConsentGrant]
    status: enforcement.CaseConsent
    guardians: dict[int, Guardian]  # address and phone withheld
    may_record: bool  # withdraw, keep signed forms
    may_record_new: bool  # record a new grant: not on a closed case
    documents: set[int]  # ids of the grants that have a signed form
    team_organisations: set[int]  # organisations of the active team, to pre-fill a grant
    history: list[HistoryRow] = field(default_factory=list)
    required_labels: list[str] = field(default_factory=list)
    gap_labels: list[str] = field(default_factory=list)
    effective_organisations: list[str] = field(default_factory=list)
    effective_categories: list[str] = field(default_factory=list)

    def active_ids(self) -> set[int]:
        return {g.id for g in rules.current_grants(self.status.grants, self.status.now).values()}

    def __repr__(self) -> str:
        return (f"ConsentOverview(case={self.case.pk}, grants={[g.pk for g in self.grants]}, "
                f"guardians={sorted(self.guardians)})")


def _person_name(person) -> str:
    return f"{person.first_name} {person.last_name}"


def _user_name(user) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def _refuse_save(*args, **kwargs):
    raise RuntimeError("a grant read with its withdrawal reason withheld is not saved")


def _refuse_person_save(*args, **kwargs):
    raise RuntimeError("a person read for a consent page, contact details withheld, is not "
                       "saved")


def _names_only(person) -> None:
    person.address = None
    person.phone = None
    person.save = _refuse_person_save


def _withhold_reasons(grants: list[ConsentGrant]) -> None:
    """The reason for a withdrawal may tell more about the family than the team needs;
    for readers who do not record consent it does not travel further than this."""
    for grant in grants:
        grant.withdrawal_reason = ""
        grant.save = _refuse_save


def _history(overview: ConsentOverview) -> list[HistoryRow]:
    status = overview.status
    latest = rules.latest_grants(status.grants, status.now)
    rule_grants = {g.id: g for g in status.grants}
    category_labels = dict(Entry.Category.choices)
    rows = []
    for grant in overview.grants:
        rule_grant = rule_grants[grant.pk]
        state = rules.grant_status(rule_grant, latest, status.now)
        if grant.giver_type == ConsentGrant.GiverType.YOUTH:
            giver = str(_("Den unge"))
        else:
            giver = (f"{_person_name(overview.guardians[grant.guardian_id])} "
                     f"({pgettext('en person', 'vårdnadshavare')})")
        rows.append(HistoryRow(
            id=grant.pk,
            giver=giver,
            organisations=sorted(o.name for o in grant.organisations.all()),
            categories=[str(category_labels[c]) for c in rules.CATEGORIES
                        if c in grant.categories],
            purpose=grant.purpose,
            form=grant.get_form_display(),
            given_on=grant.given_on,
            valid_until=grant.valid_until,
            recorded_by=_user_name(grant.recorded_by),
            recorded_at=grant.recorded_at,
            status=state,
            status_label=str(STATUS_LABELS[state]),
            withdrawn_at=grant.withdrawn_at,
            withdrawn_by=_user_name(grant.withdrawn_by),
            withdrawal_reason=grant.withdrawal_reason if overview.may_record else "",
            withdrawable=overview.may_record
            and rules.withdrawable(rule_grant, latest, status.now),
            has_document=grant.pk in overview.documents,
        ))
    return rows


def _describe(overview: ConsentOverview) -> None:
    status = overview.status
    overview.history = _history(overview)
    overview.required_labels = [
        str(_("den unge")) if giver.type == rules.Giver.youth().type
        else _person_name(overview.guardians[giver.id])
        for giver in status.required
    ]
    overview.gap_labels = status.gap_labels() if status.effective is None else []
    if status.effective is not None:
        names = {o.pk: o.name for g in overview.grants for o in g.organisations.all()}
        category_labels = dict(Entry.Category.choices)
        overview.effective_organisations = sorted(
            names[i] for i in status.effective.organisations if i in names)
        overview.effective_categories = [str(category_labels[c]) for c in rules.CATEGORIES
                                         if c in status.effective.categories]


def consent_overview(*, user, case_id, record_guardians: bool = True) -> ConsentOverview:
    """A case's consent: status now and the whole history. ``record_guardians=False``
    where the guardians' read is recorded by the page the consent is shown on (the case
    page), so it is not recorded twice."""
    case = policy.require_case(user, case_id)
    _names_only(case.youth)
    with transaction.atomic():
        guardians = {g.pk: g for g in Guardian.objects.filter(youth_id=case.youth_id)}
        for guardian in guardians.values():
            _names_only(guardian)
        grants = list(
            ConsentGrant.objects.filter(case=case)
            .prefetch_related("organisations")
            .select_related("recorded_by", "withdrawn_by")
            .order_by("-id")
        )
        for grant in grants:
            if grant.guardian_id is not None:
                # The withheld instance, so a grant never loads its giver's contact details.
                grant.guardian = guardians[grant.guardian_id]
        may_record = policy.may(user, case, policy.CaseAction.RECORD_CONSENT)
        if not may_record:
            _withhold_reasons(grants)
        overview = ConsentOverview(
            case=case,
            grants=grants,
            status=enforcement.case_consent(case),
            guardians=guardians,
            may_record=may_record,
            may_record_new=may_record and case.is_open,
            documents=set(
                ConsentDocument.objects.filter(grant__case=case).values_list("grant_id", flat=True)
            ),
            team_organisations=case.team_organisation_ids(),
        )
        _describe(overview)
        audit.record_shown(
            [*grants,
             *(("cases.Guardian", g_id) for g_id in (
                 overview.guardians if record_guardians else ())),
             ("consent.Status", case.pk)],
            actor=user, case_id=case.pk, youth_id=case.youth_id)
    return overview


def case_page_consent(*, user, case_id) -> ConsentOverview:
    """The consent section of the case page (cases/case_detail.html, as ``consent``):
    status and the whole history, read through the policy like the consent page."""
    return consent_overview(user=user, case_id=case_id, record_guardians=False)


@dataclass(frozen=True, repr=False)
class WithdrawalPage:
    """The grant to withdraw as its page shows it: dates and the giver's name, no model
    instance that could load more."""

    grant_id: int
    case_id: int
    given_on: date
    valid_until: date
    giver: str
    refusal: str | None  # why it cannot be withdrawn, shown before a reason is written

    def __repr__(self) -> str:
        return f"WithdrawalPage(grant_id={self.grant_id}, case_id={self.case_id})"


def withdrawal_page(*, user, grant_id) -> WithdrawalPage:
    """The grant to withdraw and whose it is, for those who record consent on its case;
    the read of the giver's name is recorded."""
    grant = services.require_grant(user, grant_id)
    with transaction.atomic():
        if grant.giver_type == ConsentGrant.GiverType.YOUTH:
            giver = str(_("Den unge"))
        else:
            guardian = Guardian.objects.only("first_name", "last_name").get(pk=grant.guardian_id)
            giver = f"{guardian.first_name} {guardian.last_name}"
            audit.record(action=Action.VIEW, actor=user, object_type="cases.Guardian",
                         object_id=grant.guardian_id, case_id=grant.case_id,
                         youth_id=grant.case.youth_id)
        audit.record_about(grant, action=Action.VIEW, actor=user, case_id=grant.case_id,
                           youth_id=grant.case.youth_id)
    return WithdrawalPage(grant_id=grant.pk, case_id=grant.case_id, given_on=grant.given_on,
                          valid_until=grant.valid_until, giver=giver,
                          refusal=services.withdrawal_refusal(grant))


def expiring_for_start_page(user, *, days: int = 30):
    """The coordinator's start page: current grants in the user's open cases that end
    within ``days``. Each grant shown is recorded as read."""
    if not policy.coordinates(user):
        return None
    today = timezone.localdate()
    horizon = today + timedelta(days=days)
    with transaction.atomic():
        cases = {
            c.pk: c
            for c in policy.visible_cases(user)
            .filter(
                status__in=Case.OPEN_STATUSES,
                consent_grants__withdrawn_at__isnull=True,
                consent_grants__valid_until__lte=horizon,
                consent_grants__valid_until__gte=today,
            )
            .select_related("youth", "municipality")
            .distinct()
        }
        for case in cases.values():
            _names_only(case.youth)
        statuses = enforcement.case_consents(list(cases.values()))
        rows = []
        for case in cases.values():
            status = statuses[case.pk]
            for grant in status.current_required().values():
                if grant.in_force(status.now) and grant.valid_until <= horizon:
                    rows.append(
                        {"case": case, "valid_until": grant.valid_until, "grant_id": grant.id}
                    )
        rows.sort(key=lambda r: r["valid_until"])
        audit.record_many(
            [
                {
                    "actor": user,
                    "action": Action.LIST,
                    "object_type": "consent.ConsentGrant",
                    "object_id": r["grant_id"],
                    "case_id": r["case"].pk,
                    "youth_id": r["case"].youth_id,
                }
                for r in rows
            ]
        )
    return StartSection(template="consent/_expiring.html", rows=rows)


WINDOWS = ((7, "7"), (30, "30"))  # days before the last valid day, and the reminder kind


@dataclass(frozen=True, repr=False)
class Reminder:
    case: Case
    grant: rules.Grant
    kind: str  # "30", "7" or "expired"
    leads: list  # the case's lead coordinators, who are told

    def __repr__(self) -> str:
        return f"Reminder(case={self.case.pk}, grant={self.grant.id}, kind={self.kind})"


def reminders_due(now=None) -> list[Reminder]:
    """The daily reminder run's read: for open cases, the latest grant of each giver who
    must consent now that ends within 30 days, within 7, or has ended, with the case's
    lead coordinators. The system reads it, so each grant read is recorded without an
    actor, naming the run."""
    now = timezone.localtime(now)
    today = now.date()
    horizon = today + timedelta(days=30)
    with transaction.atomic():
        case_ids = (ConsentGrant.objects.filter(withdrawn_at__isnull=True,
                                                valid_until__lte=horizon,
                                                case__status__in=Case.OPEN_STATUSES)
                    .values_list("case_id", flat=True).distinct())
        cases = list(Case.objects.filter(pk__in=case_ids).select_related("youth",
                                                                        "municipality"))
        for case in cases:
            _names_only(case.youth)
        statuses = enforcement.case_consents(cases, now=now)
        leads: dict[int, list] = {}
        for membership in CaseMember.objects.filter(
                case__in=cases, removed_at__isnull=True,
                role_in_case=CaseMember.CaseRole.LEAD).select_related("user"):
            leads.setdefault(membership.case_id, []).append(membership.user)
        due = []
        for case in cases:
            # Only givers who must consent now: a reminder about a grant of a guardian who
            # has lost custody, or of a youth under the own-consent age, asks for nothing.
            for grant in statuses[case.pk].current_required().values():
                if grant.withdrawn(now) or grant.given_on > today:
                    continue
                kind = _reminder_kind((grant.valid_until - today).days)
                if kind:
                    due.append(Reminder(case=case, grant=grant, kind=kind,
                                        leads=leads.get(case.pk, [])))
        audit.record_many([
            {"actor": None, "action": Action.LIST, "object_type": "consent.ConsentGrant",
             "object_id": r.grant.id, "case_id": r.case.pk, "youth_id": r.case.youth_id,
             "purpose": "daily consent reminder run"}
            for r in due])
    return due


def _reminder_kind(days_left: int) -> str | None:
    if days_left < 0:
        return "expired"
    for limit, kind in WINDOWS:
        if days_left <= limit:
            return kind
    return None


def timeline_events(user, case) -> list:
    """The case timeline's consent events: each grant given and withdrawn, by whom and
    for which giver; no purpose or reason text (the consent page shows those)."""
    events = []
    for grant in ConsentGrant.objects.filter(case=case).select_related(
            "recorded_by__organisation", "withdrawn_by__organisation"):
        giver = str(grant.get_giver_type_display()).lower()
        events.append(TimelineEvent(
            at=grant.recorded_at, kind="consent_given",
            text=_("Samtycke registrerat (%(giver)s)") % {"giver": giver},
            organisation=_org_name(grant.recorded_by), by=grant.recorded_by.username,
            label="consent.ConsentGrant", object_id=grant.pk))
        if grant.withdrawn_at:
            events.append(TimelineEvent(
                at=grant.withdrawn_at, kind="consent_withdrawn",
                text=_("Samtycke återkallat (%(giver)s)") % {"giver": giver},
                organisation=_org_name(grant.withdrawn_by),
                by=grant.withdrawn_by.username if grant.withdrawn_by else "",
                label="consent.ConsentGrant", object_id=grant.pk))
    return events


def _org_name(user) -> str:
    return user.organisation.name if user is not None and user.organisation_id else ""
