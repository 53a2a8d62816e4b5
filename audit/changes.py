"""Field change history of personal models through django-auditlog.

``register_personal_model`` is how a personal model joins the history: every
encrypted field is masked with a constant (the history says that it changed, never
what it held, neither plaintext nor ciphertext), no serialised copy of the object is
kept, and the entry's ``object_repr`` is the model's ``__str__``, which for personal
models must hold no name or identity number.
"""

from contextlib import contextmanager

from auditlog.context import set_actor
from auditlog.registry import auditlog

from audit import context


def register_personal_model(model, *, exclude_fields=(), also_masked=()):
    """``also_masked`` names plain fields that still say something about a person (a
    birth date derived from the identity number, say)."""
    masked = [f.name for f in model._meta.concrete_fields if getattr(f, "encrypted", False)]
    masked += list(also_masked)
    auditlog.register(
        model,
        mask_fields=masked,
        mask_callable="audit.changes.mask",
        exclude_fields=list(exclude_fields),
        serialize_data=False,
    )
    return model


@contextmanager
def actor(user):
    """Name ``user`` as the author of the change-history entries written inside; used by
    services, so API calls (authenticated after the middleware ran) get an actor too."""
    with set_actor(user, remote_addr=context.current().ip):
        yield


def mask(value) -> str:
    return "[krypterat]"
