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
from audit.models import PURPOSE_MAX_LENGTH, AccessEvent, ChainLink, Outcome


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
    return AccessEvent(
        action=str(action),
        outcome=str(outcome),
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        case_id=case_id,
        youth_id=youth_id,
        purpose=purpose,
        request_id=ctx.request_id,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        path=ctx.path,
        **_actor_fields(actor),
    )


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
    ``object_id``, ``case_id``, ``youth_id``, ``purpose``. Pass ids, never content.
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
