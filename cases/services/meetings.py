"""Network meetings (nätverksmöten). The coordinators record them: when, which team
members took part, whether the young person and which guardians were there, the
minutes and the decisions. The minutes go to the participants' organisations, so a
member whose organisation the effective consent does not cover cannot be a participant:
the minutes could not lawfully reach them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Action
from cases import policy
from cases.models import PLAN_TEXT_MAX_LENGTH, Category, Guardian, Meeting, MeetingParticipant
from cases.services._base import _errors, _locked_case, _record, text_field
from cases.services.entries import item_fields


def _participants(user, case, usernames, category: str, errors: dict) -> list:
    names = list(dict.fromkeys(str(n).strip() for n in (usernames or []) if str(n).strip()))
    if not names:
        errors["participants"] = [_("Ange minst en deltagare från teamet.")]
        return []
    members = {m.username: m for m in get_user_model().objects.filter(
        username__in=names, is_active=True, case_memberships__case=case,
        case_memberships__removed_at__isnull=True).select_related("organisation")}
    problems = []
    sources = frozenset({user.organisation_id})
    for name in names:
        member = members.get(name)
        if member is None:
            problems.append(_("%(name)s ingår inte i ärendets team.") % {"name": name[:150]})
        elif not policy.may_receive(member, case, category, sources):
            problems.append(_("%(name)s (%(org)s) kan inte delta: samtycket omfattar inte "
                              "organisationen, så minnesanteckningarna får inte nå den.")
                            % {"name": name, "org": member.organisation.name})
    if problems:
        errors["participants"] = problems
    return list(members.values())


def meeting_record(*, user, case_id, held_at: datetime | None, participants, minutes: str,
                   decisions: str = "", youth_present: bool = False,
                   guardians_present=()) -> Meeting:
    case = policy.require_case(user, case_id, policy.CaseAction.RECORD_MEETING)
    errors: dict = {}
    category = Category.of_organisation(user.organisation)
    fields = item_fields(user, case, category=category, errors=errors)
    if held_at is None:
        errors["held_at"] = [_("Ange när mötet hölls.")]
    elif held_at > timezone.now() + timedelta(minutes=5):
        errors["held_at"] = [_("Ett möte registreras när det har hållits, inte i förväg.")]
    elif timezone.localdate(held_at) < case.opened_at - timedelta(days=1):
        errors["held_at"] = [_("Mötet kan inte ha hållits innan ärendet öppnades (%(day)s).")
                             % {"day": case.opened_at.isoformat()}]
    people = _participants(user, case, participants, category, errors)
    minutes = text_field(minutes, errors, field="minutes", label=_("Minnesanteckningarna"),
                         limit=PLAN_TEXT_MAX_LENGTH, required=True)
    decisions = text_field(decisions, errors, field="decisions", label=_("Besluten"),
                           limit=PLAN_TEXT_MAX_LENGTH, required=False)
    wanted = set()
    for value in guardians_present or []:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if 0 < number <= policy.MAX_ID:
            wanted.add(number)
        else:
            errors["guardians_present"] = [_("Ange vårdnadshavarna med deras id.")]
    guardians = list(Guardian.objects.filter(youth_id=case.youth_id, pk__in=wanted))
    if len(guardians) != len(wanted) and "guardians_present" not in errors:
        errors["guardians_present"] = [_("Bara den unges vårdnadshavare i ärendet kan "
                                         "anges.")]
    _errors(errors)
    with _locked_case(user, case, policy.CaseAction.RECORD_MEETING) as case:
        meeting = Meeting.objects.create(case=case, held_at=held_at, minutes=minutes,
                                         decisions=decisions,
                                         youth_present=bool(youth_present), **fields)
        MeetingParticipant.objects.bulk_create(
            [MeetingParticipant(meeting=meeting, user=p, organisation_id=p.organisation_id)
             for p in people])
        meeting.guardians_present.set(guardians)
        _record(user, Action.CREATE, meeting, case)
    return meeting
