"""The audit log: access events, their hash chains, append-only tables, verification.

``audit.record(...)`` is the one way to write an access event. This app is a sink: it
imports nothing from ``sspf``, ``cases``, ``consent`` or ``lagesbild`` and stores ids,
not objects, so the log outlives the records it speaks of.
"""


def record(**kwargs):
    from audit.events import record as _record

    return _record(**kwargs)


def record_about(obj, **kwargs):
    from audit.events import record_about as _record_about

    return _record_about(obj, **kwargs)


def record_many(events):
    from audit.events import record_many as _record_many

    return _record_many(events)


def record_shown(objs, **kwargs):
    from audit.events import record_shown as _record_shown

    return _record_shown(objs, **kwargs)
