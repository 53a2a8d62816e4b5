"""Writing access events: ``record()`` is the one way to do it.

The event is written in the caller's transaction, so a read or a write and its event
commit together or not at all. If the event cannot be written the exception goes up:
the caller's work rolls back and the request ends in a 500 with nothing from the
read (fail closed). Never catch the exception to carry on.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit import chain, context
from audit.models import PURPOSE_MAX_LENGTH, AccessEvent, Action, ChainLink, Outcome


def _actor_fields(actor) -> dict:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {}
    return {
        "actor_id": actor.pk,
        "actor_username": actor.get_username(),
        "actor_org_id": getattr(actor, "organisation_id", None),
        "actor_role": getattr(actor, "role", "") or "",
    }


def _event(
    *,
    action: str,
    actor=None,
    outcome: str = Outcome.ALLOWED,
    object_type: str = "",
    object_id=None,
    case_id: int | None = None,
    youth_id: int | None = None,
    purpose: str = "",
    flags: str | None = None,
    ip: str | None = None,
) -> AccessEvent:
    if len(purpose) > PURPOSE_MAX_LENGTH:
        raise ValidationError(
            {"purpose": _("Syftet får vara högst %(max)d tecken.") % {"max": PURPOSE_MAX_LENGTH}}
        )
    if outcome not in Outcome.values:
        raise ValueError(f"unknown outcome {outcome!r}")
    ctx = context.current()
    if actor is None:
        actor = ctx.user
    object_id = "" if object_id is None else str(object_id)
    if _could_be_personal(object_id):
        object_id, flags = MASKED_ID, _with_flag(flags, MASKED_FLAG)
    if case_id is not None and _could_be_personal(str(case_id)):
        case_id, flags = None, _with_flag(flags, MASKED_FLAG)
    if youth_id is not None and _could_be_personal(str(youth_id)):
        youth_id, flags = None, _with_flag(flags, MASKED_FLAG)
    user_agent = ctx.user_agent
    if user_agent and _could_be_personal(user_agent):  # the client's own free text
        user_agent, flags = MASKED_ID, _with_flag(flags, MASKED_FLAG)
    return AccessEvent(
        action=str(action),
        outcome=str(outcome),
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        youth_id=youth_id,
        purpose=purpose,
        request_id=ctx.request_id,
        ip=ip or ctx.ip,
        user_agent=user_agent,
        path=ctx.path,
        flags=flags or None,
        **_actor_fields(actor),
    )


def _with_flag(flags: str | None, flag: str) -> str:
    marks = [m for m in (flags or "").split(",") if m]
    if flag not in marks:
        marks.append(flag)
    return ",".join(marks)


def add_flag(event: AccessEvent, flag: str) -> None:
    """Add a mark for the log review to an event not yet written, keeping its others."""
    event.flags = _with_flag(event.flags, flag)


# An id someone asked for may be an identity number typed where an id goes
# (``/arenden/201103282388/``). It is never stored: the event keeps ``MASKED_ID`` (and no
# case or youth id) and the mark ``MASKED_FLAG``, so the log review still sees the try.
# The same for a user agent (a client's free text) that holds one.
MASKED_ID = "*"
MASKED_FLAG = "masked_id"
_id_maskers = []


def register_id_masker(masker) -> None:
    """Let another part say which ids could be personal: ``masker(text)`` is True for
    one that must not be stored (audit itself knows no identity numbers)."""
    if masker not in _id_maskers:
        _id_maskers.append(masker)


def _could_be_personal(text: str) -> bool:
    return any(masker(text) for masker in _id_maskers)


_flaggers = []


def register_flagger(flagger) -> None:
    """Let another part mark events for the log review as they are written:
    ``flagger(events)`` sets ``event.flags`` on those it recognises (audit itself knows
    ids only). It is called once per write with every event of that write."""
    if flagger not in _flaggers:
        _flaggers.append(flagger)


def _flag(events: list[AccessEvent]) -> None:
    for flagger in _flaggers:
        flagger(events)


def record(**fields) -> AccessEvent:
    """Write one access event and link it into the hash chain.

    Keyword arguments: ``action``, ``actor`` (defaults to the user of the current
    request), ``outcome``, ``object_type`` (a model label such as ``cases.Case``),
    ``object_id``, ``case_id``, ``youth_id``, ``purpose``, ``flags`` (marks for the log
    review, comma-separated), ``ip`` (the client address, when not the current
    request's). Pass ids, never content.
    """
    event = _event(**fields)
    with transaction.atomic():
        _flag([event])
        event.save(force_insert=True)
        chain.append(ChainLink.RecordType.ACCESS, event)
    return event


def record_many(events: list[dict]) -> list[AccessEvent]:
    """Write several events (one per row of a list that was read) under one lock."""
    built = [_event(**fields) for fields in events]
    if not built:
        return []
    with transaction.atomic():
        _flag(built)
        built = AccessEvent.objects.bulk_create(built)  # ids come back on SQLite and PostgreSQL
        chain.append_many(ChainLink.RecordType.ACCESS, built)
    return built


def record_about(obj, *, action: str, actor, case_id=None, youth_id=None, **extra) -> AccessEvent:
    """``record`` for a model instance: its label and id name the object."""
    return record(
        action=action,
        actor=actor,
        object_type=obj._meta.label,
        object_id=obj.pk,
        case_id=case_id,
        youth_id=youth_id,
        **extra,
    )


def record_shown(objs, *, actor, case_id=None, youth_id=None, action: str = Action.VIEW,
                 purpose: str = "") -> list[AccessEvent]:
    """One event per object shown, for the rows of a page or a list: "these objects of
    this case were shown to this user". An object is a model instance (its label and
    id name it) or a ``(label, id)`` pair for what was shown without being loaded."""
    named = [obj if isinstance(obj, tuple) else (obj._meta.label, obj.pk) for obj in objs]
    return record_many([
        {"actor": actor, "action": action, "object_type": label, "object_id": pk,
         "case_id": case_id, "youth_id": youth_id, "purpose": purpose}
        for label, pk in named
    ])
