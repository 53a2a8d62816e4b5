"""Writes of the collaboration core: staff accounts and their second factor.

Every change an administrator makes to an account is an access event: an account's
role, organisation, password and second factor decide what it can read, so changing
them is how an administrator could reach case content through someone else's account.
The events let the log review see a reset followed by a login. A change of role or
organisation also ends the account's case-team memberships (the team was chosen for
the person in their old work); the cases app registers how, so this module does not
depend on it.

Municipalities and organisations hold settings that decide access (the own-consent
age, whether social workers record consent, an organisation's kind and municipality),
so they too are created and changed only here, each change an access event naming the
fields with their old and new values (these settings are not personal data).

Resetting the password or the second factor of any account takes two administrators:
one asks (``credential_reset_request``), another approves (``credential_reset_approve``).
Every account, not only those that read case data: an administrator who could reset
another administrator's account alone could approve their own requests with it, and an
auditor's account reads the access log. For the same reason nobody is made an
administrator in the admin. A reset ends the account's sessions and API tokens, tells
the owner, and marks the owner's next login for the log review. No library does
four-eyes approval in Django's admin; this is the small state machine of
``CredentialReset``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit
from audit.models import PURPOSE_MAX_LENGTH, Action
from sspf import notifications
from sspf.models import (
    ApiToken,
    CredentialReset,
    Municipality,
    Organisation,
    User,
    new_security_stamp,
)
from sspf.roles import Role

# Fields of an account whose change is recorded, by name; never their values.
RECORDED_FIELDS = ("username", "first_name", "last_name", "email", "organisation", "role",
                   "is_active", "is_superuser")


class ReassignmentHook:
    """What another part does when an account changes role or organisation:
    ``refusal(account)`` returns a message when the change must wait (None otherwise);
    ``end(account, actor)`` ends what the account had through its old work."""

    def __init__(self, refusal: Callable[[User], str | None],
                 end: Callable[[User, User | None], None]):
        self.refusal, self.end = refusal, end


_reassignment_hooks: list[ReassignmentHook] = []


def register_reassignment_hook(hook: ReassignmentHook) -> None:
    if all(h.end is not hook.end for h in _reassignment_hooks):
        _reassignment_hooks.append(hook)


def reassignment_refusal(account: User) -> str | None:
    """Why the account's role or organisation cannot change now, if it cannot."""
    for hook in _reassignment_hooks:
        message = hook.refusal(account)
        if message:
            return message
    return None


def _reassigned(before: User | None, role: str, organisation_id: int | None) -> bool:
    return before is not None and (before.role != role
                                   or before.organisation_id != organisation_id)


def _end_old_work(before: User, actor: User | None) -> None:
    refusal = reassignment_refusal(before)
    if refusal:
        raise ValidationError({"organisation": [refusal]})
    for hook in _reassignment_hooks:
        hook.end(before, actor)


def _record_account(actor, account: User, action: str, fields=()) -> None:
    audit.record(action=action, actor=actor, object_type="sspf.User", object_id=account.pk,
                 purpose=", ".join(f for f in RECORDED_FIELDS if f in fields))


@transaction.atomic
def staff_account_save(
    *,
    username: str,
    role: str,
    organisation: Organisation | None,
    password: str | None = None,
    is_superuser: bool = False,
) -> User:
    """Create or update a staff account so that it acts in exactly one role: the setup
    of an installation (``seed_demo``, ``create_administrator``, an operator's shell),
    which records nothing itself. Administrators change accounts through
    ``staff_account_admin_save`` and the reset requests below, which are recorded.

    The role's group is the account's only group. Superusers administer the system;
    they get no access to case content from that flag (see cases.policy).
    """
    role = Role(role)
    before = User.objects.filter(username=username).first()
    organisation_id = organisation.pk if organisation else None
    if _reassigned(before, role, organisation_id):
        _end_old_work(before, None)
    user = before or User(username=username)
    user.role = role
    user.organisation = organisation
    user.is_superuser = is_superuser
    user.is_staff = role == Role.ADMINISTRATOR
    if password is not None:
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get(name=str(role))])
    return user


def administrator_role_refusal(*, before: User | None, role: str) -> str | None:
    """Nobody becomes an administrator in the admin: a second administrator account in
    the hands of the first would approve that one's own requests. Operators create
    administrators on the server (``manage.py create_administrator``)."""
    if role == Role.ADMINISTRATOR and (before is None or before.role != Role.ADMINISTRATOR):
        return _("Administratörer skapas av driften på servern (manage.py "
                 "create_administrator), inte här: annars kunde en administratör godkänna "
                 "sina egna begäranden med ett konto hen själv har skapat.")
    return None


@transaction.atomic
def staff_account_admin_save(*, actor: User, account: User, changed: list[str],
                             created: bool) -> User:
    """Save an account edited in the admin (``account`` holds the new values, not yet
    saved), keep its role group in step and record what changed, by field name."""
    before = None if created else User.objects.get(pk=account.pk)
    refusal = administrator_role_refusal(before=before, role=account.role)
    if refusal:
        raise ValidationError({"role": [refusal]})
    if _reassigned(before, account.role, account.organisation_id):
        _end_old_work(before, actor)
    account.is_staff = account.role == Role.ADMINISTRATOR
    demoted = before is not None and before.role == Role.ADMINISTRATOR != account.role
    if demoted:  # an administrator no more: no superuser flag, and the admin sessions end
        account.is_superuser = False
        account.security_stamp = new_security_stamp()
    if created:  # the administrator chose its first password: its first login is marked
        account.credentials_reset_at = timezone.now()
    account.save()
    account.groups.set([Group.objects.get(name=str(Role(account.role)))])
    if created:
        _record_account(actor, account, Action.ACCOUNT_CREATED, RECORDED_FIELDS)
    elif changed:  # the password and second factor have requests of their own
        _record_account(actor, account, Action.ACCOUNT_CHANGED, changed)
    if before is not None and before.email and before.email != account.email:
        # Where security notices go decides whether the owner hears of a reset: the
        # address the account had is told at once that it is no longer used.
        notifications.notify_now(
            user=account, key=f"email-changed:{timezone.now().isoformat()}",
            text=str(EMAIL_CHANGED_TEXT), subject=notifications.SECURITY_SUBJECT,
            body=str(EMAIL_CHANGED_TEXT), also_to=before.email)
    return account


EMAIL_CHANGED_TEXT = gettext_lazy(
    "En administratör har ändrat e-postadressen för ditt konto; meddelanden går inte längre "
    "till den här adressen. Har du inte bett om det, kontakta din administratör eller "
    "kommunens säkerhetsfunktion genast.")


# --- Resets of password and second factor -------------------------------------------------

RESET_REQUEST_LIFETIME = timedelta(hours=24)


def reset_expired(reset: CredentialReset, *, now=None) -> bool:
    return (now or timezone.now()) - reset.requested_at > RESET_REQUEST_LIFETIME


def _is_administrator(user: User) -> bool:
    return bool(user is not None and user.is_active and user.role == Role.ADMINISTRATOR)


def _record_reset(actor, reset: CredentialReset, action: str, purpose: str = "") -> None:
    audit.record(action=action, actor=actor, object_type="sspf.CredentialReset",
                 object_id=reset.pk,
                 purpose=purpose or f"{reset.kind} for account {reset.account_id}")


OWNER_TEXTS = {
    CredentialReset.Kind.PASSWORD: gettext_lazy(
        "En administratör har satt ett nytt lösenord för ditt konto. Har du inte bett om det, "
        "kontakta din administratör eller kommunens säkerhetsfunktion genast."),
    CredentialReset.Kind.SECOND_FACTOR: gettext_lazy(
        "En administratör har återställt din tvåstegsverifiering. Har du inte bett om det, "
        "kontakta din administratör eller kommunens säkerhetsfunktion genast."),
}


def _after_reset(account: User, *, actor: User, action: str, kind: str, purpose: str = ""
                 ) -> None:
    """What every reset does, in the caller's transaction: the account's sessions end
    (a new security stamp), its API tokens are revoked, its next login is marked, the
    reset is recorded and the owner is told, in the app and (when configured) by e-mail.
    """
    now = timezone.now()
    revoked = ApiToken.objects.filter(user=account, revoked_at__isnull=True).update(
        revoked_at=now)
    User.objects.filter(pk=account.pk).update(security_stamp=new_security_stamp(),
                                              credentials_reset_at=now)
    account.refresh_from_db(fields=["security_stamp", "credentials_reset_at"])
    detail = f"sessions ended, {revoked} API token(s) revoked"
    audit.record(action=action, actor=actor, object_type="sspf.User", object_id=account.pk,
                 purpose=f"{purpose}; {detail}" if purpose else detail)
    notifications.notify_now(user=account, key=f"reset:{kind}:{now.isoformat()}",
                             text=str(OWNER_TEXTS[kind]),
                             subject=notifications.SECURITY_SUBJECT, body=str(OWNER_TEXTS[kind]))


def credential_reset_request(*, actor: User, account: User, kind: str,
                             password: str | None = None) -> CredentialReset:
    """Ask for a reset of ``account`` (``password`` for a new password; None with that
    kind turns password login off). Nothing changes until another administrator
    approves; the other administrators are told that a request waits. Django's admin
    form has validated the password against the password rules already."""
    kind = CredentialReset.Kind(kind)
    if not _is_administrator(actor):
        raise ValidationError({"account": [_("Bara administratörer begär återställningar.")]})
    if account.pk == actor.pk:
        raise ValidationError({"account": [_("Du kan inte begära återställning av ditt eget "
                                              "konto.")]})
    password_hash = make_password(password) if kind == CredentialReset.Kind.PASSWORD else ""
    try:
        with transaction.atomic():
            _expire_stale(actor, account, kind)
            reset = CredentialReset.objects.create(account=account, kind=kind,
                                                   password_hash=password_hash,
                                                   requested_by=actor)
            _record_reset(actor, reset, Action.RESET_REQUESTED)
            for other in User.objects.filter(role=Role.ADMINISTRATOR, is_active=True).exclude(
                    pk=actor.pk):
                notifications.notify(
                    user=other, key=f"reset-request:{reset.pk}",
                    text=_("En begäran om återställning av inloggning väntar på en andra "
                           "administratörs godkännande."),
                    link=reverse("admin:sspf_credentialreset_changelist"))
    except IntegrityError:
        raise ValidationError({"account": [_(
            "Det finns redan en begäran om samma återställning som väntar på godkännande.")]}
        ) from None
    return reset


def _expire_stale(actor: User, account: User, kind: str) -> None:
    """A request left undecided past its lifetime no longer blocks a new one: the
    administrator asking anew closes it as rejected first."""
    stale = CredentialReset.objects.filter(
        account=account, kind=kind, status=CredentialReset.Status.PENDING,
        requested_at__lt=timezone.now() - RESET_REQUEST_LIFETIME)
    for reset in stale:
        reset.status = CredentialReset.Status.REJECTED
        reset.decided_at = timezone.now()
        reset.password_hash = ""
        reset.save(update_fields=["status", "decided_at", "password_hash"])
        _record_reset(actor, reset, Action.RESET_REJECTED, purpose="expired undecided")


def _decidable(actor: User, reset_id) -> CredentialReset:
    reset = (CredentialReset.objects.select_for_update().select_related("account", "requested_by")
             .filter(pk=reset_id).first())
    if reset is None:
        raise ValidationError({"reset": [_("Begäran finns inte.")]})
    if not _is_administrator(actor):
        raise ValidationError({"reset": [_("Bara administratörer beslutar om återställningar.")]})
    if reset.status != CredentialReset.Status.PENDING:
        raise ValidationError({"reset": [_("Begäran är redan beslutad.")]})
    if reset.requested_by_id == actor.pk:
        raise ValidationError({"reset": [_(
            "En annan administratör än den som begärde återställningen måste godkänna den.")]})
    if reset.account_id == actor.pk:
        raise ValidationError({"reset": [_("Du kan inte besluta om ditt eget konto.")]})
    return reset


def credential_reset_approve(*, actor: User, reset_id) -> CredentialReset:
    """Carry out a request another administrator made: set the password or remove the
    second factor, then what every reset does (``_after_reset``)."""
    with transaction.atomic():
        reset = _decidable(actor, reset_id)
        if reset_expired(reset):
            raise ValidationError({"reset": [_(
                "Begäran har gått ut (den gäller i 24 timmar). Gör en ny begäran.")]})
        account = reset.account
        if reset.kind == CredentialReset.Kind.PASSWORD:
            User.objects.filter(pk=account.pk).update(password=reset.password_hash)
            action = Action.PASSWORD_SET
        else:
            TOTPDevice.objects.filter(user=account).delete()
            action = Action.OTP_RESET
        _decide(actor, reset, CredentialReset.Status.APPROVED, Action.RESET_APPROVED)
        _after_reset(account, actor=actor, action=action, kind=reset.kind,
                     purpose=f"request {reset.pk} by {reset.requested_by.username}, approved")
    return reset


def _decide(actor: User, reset: CredentialReset, status: str, action: str) -> None:
    """Stamp the decision, forget the requested password's hash, record it."""
    reset.status = status
    reset.decided_by = actor
    reset.decided_at = timezone.now()
    reset.password_hash = ""
    reset.save(update_fields=["status", "decided_by", "decided_at", "password_hash"])
    _record_reset(actor, reset, action)


def credential_reset_reject(*, actor: User, reset_id) -> CredentialReset:
    with transaction.atomic():
        reset = _decidable(actor, reset_id)
        _decide(actor, reset, CredentialReset.Status.REJECTED, Action.RESET_REJECTED)
    return reset


def login_completed(user: User) -> str | None:
    """Called in the transaction of a completed login (password and second factor):
    the mark for its event when it is the first login since a reset, which it clears."""
    if user.credentials_reset_at is None:
        return None
    User.objects.filter(pk=user.pk).update(credentials_reset_at=None)
    user.credentials_reset_at = None
    return FIRST_LOGIN_AFTER_RESET


FIRST_LOGIN_AFTER_RESET = "first_login_after_reset"




def totp_device_for_enrolment(user: User) -> TOTPDevice:
    """A fresh unconfirmed device; an earlier unfinished enrolment is discarded so a
    secret is shown only once."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="TOTP", confirmed=False)


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


# --- Municipalities and organisations -----------------------------------------------------

MUNICIPALITY_FIELDS = ("name", "age_min", "age_max", "own_consent_age",
                       "follow_up_interval_weeks", "consent_validity_months", "retention_years",
                       "areas", "social_worker_records_consent", "suppression_threshold")
ORGANISATION_FIELDS = ("name", "kind", "municipality")
_VALUE_MAX = 80  # characters of one old or new value in an event's purpose


def _shown(value) -> str:
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, models.Model):
        value = value.pk
    text = str(value)
    return text if len(text) <= _VALUE_MAX else text[: _VALUE_MAX - 1] + "…"


def _changes(before, after, fields) -> list[str]:
    """``field: old → new`` for every field that differs (foreign keys by id)."""
    changed = []
    for name in fields:
        field = after._meta.get_field(name)
        attname = field.attname
        old = None if before is None else getattr(before, attname)
        new = getattr(after, attname)
        if before is None or old != new:
            changed.append(name if before is None else f"{name}: {_shown(old)} → {_shown(new)}")
    return changed


def _purpose(changes: list[str]) -> str:
    text = "; ".join(changes)
    return text if len(text) <= PURPOSE_MAX_LENGTH else text[: PURPOSE_MAX_LENGTH - 1] + "…"


class OrganisationMoveHook:
    """Why an organisation cannot move to another municipality now, asked of the parts
    that hold its work (``refusal(organisation)`` returns a message or None)."""

    def __init__(self, refusal: Callable[[Organisation], str | None]):
        self.refusal = refusal


_organisation_move_hooks: list[OrganisationMoveHook] = []


def register_organisation_move_hook(hook: OrganisationMoveHook) -> None:
    if all(h.refusal is not hook.refusal for h in _organisation_move_hooks):
        _organisation_move_hooks.append(hook)


def organisation_move_refusal(organisation: Organisation) -> str | None:
    """Why ``organisation`` (saved, in its current municipality) cannot move."""
    if User.objects.filter(organisation=organisation).exists():
        return _("Organisationen har konton. Flytta eller inaktivera kontona först; en "
                 "organisation byter inte kommun med sina medarbetare.")
    for hook in _organisation_move_hooks:
        message = hook.refusal(organisation)
        if message:
            return message
    return None


def _locked_before(model, obj):
    return model.objects.select_for_update().filter(pk=obj.pk).first() if obj.pk else None


def _save_recorded(actor: User | None, obj, before, fields, *, created: str, changed: str):
    """Validate and save a setting that decides access; with an ``actor`` the change is
    an access event listing the fields, old → new."""
    obj.full_clean()
    obj.save()
    changes = _changes(before, obj, fields)
    if actor is not None and changes:
        audit.record(action=created if before is None else changed, actor=actor,
                     object_type=obj._meta.label, object_id=obj.pk, purpose=_purpose(changes))
    return obj


@transaction.atomic
def municipality_save(*, actor: User | None, municipality: Municipality) -> Municipality:
    """Create or change a municipality (``municipality`` holds the new values, not yet
    saved). With an ``actor`` the change is recorded field by field, old → new; without
    one it is the setup of an installation (``seed_demo``), outside the access log."""
    return _save_recorded(actor, municipality, _locked_before(Municipality, municipality),
                          MUNICIPALITY_FIELDS, created=Action.MUNICIPALITY_CREATED,
                          changed=Action.MUNICIPALITY_CHANGED)


@transaction.atomic
def organisation_save(*, actor: User | None, organisation: Organisation) -> Organisation:
    """Create or change an organisation, recorded like ``municipality_save``. An
    organisation with accounts, or with work on cases, stays in its municipality."""
    before = _locked_before(Organisation, organisation)
    if before is not None and before.municipality_id != organisation.municipality_id:
        refusal = organisation_move_refusal(before)
        if refusal:
            raise ValidationError({"municipality": [refusal]})
    return _save_recorded(actor, organisation, before, ORGANISATION_FIELDS,
                          created=Action.ORGANISATION_CREATED,
                          changed=Action.ORGANISATION_CHANGED)
