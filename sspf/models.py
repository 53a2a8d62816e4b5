"""The collaboration core: municipalities, partner organisations and staff accounts.

Glossary: *kommun* = Municipality; *SSPF* = socialtjänst, skola, polis, fritid, the
partners that work together around a young person; *gallring* = deletion of records
after their retention period.

Staff accounts are never deleted, only deactivated, so that every audit event keeps
pointing at a real account.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from sspf.roles import ROLES_WITHOUT_ORGANISATION, Role

AREA_MAX_LENGTH = 100


class Municipality(models.Model):
    name = models.CharField(_("namn"), max_length=100, unique=True)
    age_min = models.PositiveSmallIntegerField(
        _("lägsta ålder"), default=12, validators=[MaxValueValidator(25)]
    )
    age_max = models.PositiveSmallIntegerField(
        _("högsta ålder"), default=18, validators=[MaxValueValidator(25)]
    )
    own_consent_age = models.PositiveSmallIntegerField(
        _("ålder från vilken den unges eget samtycke krävs"),
        default=15,
        validators=[MinValueValidator(12), MaxValueValidator(18)],
    )
    follow_up_interval_weeks = models.PositiveSmallIntegerField(
        _("uppföljningsintervall (veckor)"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(52)],
    )
    consent_validity_months = models.PositiveSmallIntegerField(
        _("samtyckets giltighetstid (månader)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(36)],
    )
    retention_years = models.PositiveSmallIntegerField(
        _("gallring efter avslut (år)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("Enligt kommunens dokumenthanteringsplan."),
    )
    areas = models.JSONField(
        _("områden"), default=list, blank=True,
        help_text=_("Områden som ärenden och lägesbild delas in i, t.ex. stadsdelar."),
    )
    social_worker_records_consent = models.BooleanField(
        _("socialsekreterare får registrera och återkalla samtycken"), default=False
    )
    suppression_threshold = models.PositiveSmallIntegerField(
        _("minsta cellstorlek i lägesbilden (k)"),
        default=5,
        validators=[MinValueValidator(3), MaxValueValidator(20)],
    )

    class Meta:
        verbose_name = _("kommun")
        verbose_name_plural = _("kommuner")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(age_min__lte=models.F("age_max")),
                name="municipality_age_span_ordered",
            ),
            # Gallring's permission to delete consent records rests on this period
            # (consent/triggers.py): the database holds it to the validators' range.
            models.CheckConstraint(
                condition=models.Q(retention_years__gte=1, retention_years__lte=10),
                name="municipality_retention_1_to_10_years",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValidationError({"age_min": _("Lägsta ålder kan inte vara högre än högsta.")})
        areas = self.areas
        if not isinstance(areas, list) or not all(
                isinstance(a, str) and a.strip() and len(a) <= AREA_MAX_LENGTH for a in areas):
            raise ValidationError({"areas": _(
                'Ange områdena som en lista med namn, t.ex. ["Norr", "Söder"] (varje namn '
                'högst %(max)d tecken).') % {"max": AREA_MAX_LENGTH}})
        if len({a.strip().casefold() for a in areas}) != len(areas):
            raise ValidationError({"areas": _("Samma område står två gånger.")})


class Organisation(models.Model):
    class Kind(models.TextChoices):
        SOCIAL_SERVICES = "social_services", _("Socialtjänst")
        SCHOOL = "school", _("Skola")
        LEISURE = "leisure", _("Fritid")
        POLICE = "police", _("Polis")
        COORDINATION = "coordination", _("SSPF-samordning")
        OTHER = "other", _("Övrig")

    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, related_name="organisations",
        verbose_name=_("kommun"),
    )
    name = models.CharField(_("namn"), max_length=150)
    kind = models.CharField(_("typ"), max_length=20, choices=Kind.choices)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisationer")
        ordering = ["municipality__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "name"], name="organisation_unique_name_per_municipality"
            )
        ]

    def __str__(self) -> str:
        return self.name


def new_security_stamp() -> str:
    return secrets.token_hex(16)


class User(AbstractUser):
    """A staff account. It acts for one organisation in one role."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="staff",
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("roll"), max_length=20, choices=Role.choices)
    # Part of every session's authentication hash: a new stamp ends every session of the
    # account at its next request (a reset of password or second factor does that).
    security_stamp = models.CharField(max_length=32, default=new_security_stamp,
                                      editable=False)
    # Set when an administrator chose the credentials (created the account with a
    # password, or had a reset approved); the next completed login is marked for the log
    # review and clears it.
    credentials_reset_at = models.DateTimeField(_("inloggningsuppgifter återställda"),
                                                null=True, blank=True, editable=False)

    class Meta(AbstractUser.Meta):
        verbose_name = _("användare")
        verbose_name_plural = _("användare")

    def __str__(self) -> str:
        return self.username

    def _get_session_auth_hash(self, secret=None):
        return salted_hmac("sspf.User.session_auth_hash", f"{self.password}|{self.security_stamp}",
                           secret=secret, algorithm="sha256").hexdigest()

    @property
    def municipality(self) -> Municipality | None:
        return self.organisation.municipality if self.organisation_id else None

    def clean(self):
        super().clean()
        if self.role and self.role not in ROLES_WITHOUT_ORGANISATION and not self.organisation_id:
            raise ValidationError({"organisation": _("Rollen kräver en organisation.")})

    def delete(self, *args, **kwargs):
        raise ValidationError(
            _("Konton tas aldrig bort, de inaktiveras, så att loggarna förblir spårbara.")
        )


class ApiToken(models.Model):
    """A personal access token for the REST API. Only its SHA-256 is stored; the key is
    shown once when issued. The key is 256 random bits, so a plain hash suffices."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(_("namn"), max_length=100, blank=True)
    prefix = models.CharField(_("början av nyckeln"), max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("skapad"), auto_now_add=True)
    expires_at = models.DateTimeField(_("går ut"))
    last_used_at = models.DateTimeField(_("senast använd"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("återkallad"), null=True, blank=True)

    class Meta:
        verbose_name = _("API-nyckel")
        verbose_name_plural = _("API-nycklar")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}…"


class Notification(models.Model):
    """An in-app message to one staff member. The text names cases by number only,
    never a person, so it can also be sent by e-mail. ``emailed_at`` is set once the
    e-mail that tells of it has been sent, so a failed sending is tried again and a
    sent one never twice."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="notifications")
    text = models.CharField(_("meddelande"), max_length=300)
    link = models.CharField(_("länk"), max_length=200, blank=True)
    key = models.CharField(max_length=100, help_text="Identifies the reminder, so it is sent once.")
    created_at = models.DateTimeField(_("skapad"), auto_now_add=True)
    read_at = models.DateTimeField(_("läst"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-post skickad"), null=True, blank=True)

    class Meta:
        verbose_name = _("notis")
        verbose_name_plural = _("notiser")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"],
                                               name="notification_once_per_key")]

    def __str__(self) -> str:
        return f"Notis #{self.pk}"


class CredentialReset(models.Model):
    """A reset of an account's password or second factor, asked for by one administrator
    and carried out only when another approves it (four eyes). Setting a password and
    replacing the second factor is how an administrator could log in as someone else, so
    for accounts that read case data nobody does it alone. The requested password is
    kept only as its hash, and only until the request is decided."""

    class Kind(models.TextChoices):
        PASSWORD = "password", _("Nytt lösenord")
        SECOND_FACTOR = "second_factor", _("Ny tvåstegsverifiering")

    class Status(models.TextChoices):
        PENDING = "pending", _("Väntar på godkännande")
        APPROVED = "approved", _("Godkänd och genomförd")
        REJECTED = "rejected", _("Avslagen")

    account = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("konto"))
    kind = models.CharField(_("åtgärd"), max_length=20, choices=Kind.choices)
    password_hash = models.CharField(max_length=256, blank=True, editable=False)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("begärd av"))
    requested_at = models.DateTimeField(_("begärd"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PENDING)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True,
                                   blank=True, verbose_name=_("beslutad av"))
    decided_at = models.DateTimeField(_("beslutad"), null=True, blank=True)

    class Meta:
        verbose_name = _("återställning av inloggning")
        verbose_name_plural = _("återställningar av inloggning")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind"],
                                    condition=models.Q(status="pending"),
                                    name="credentialreset_one_pending_per_kind"),
            models.CheckConstraint(condition=~models.Q(requested_by=models.F("decided_by")),
                                   name="credentialreset_decided_by_another"),
        ]

    def __str__(self) -> str:
        return f"Återställning #{self.pk}"


class RefusalTally(models.Model):
    """Refused anonymous requests (no login, no or a bad API token) from one address in
    one minute. The first of each minute is an access event at once; the rest are only
    counted here and recorded as one event with their number when the minute is over
    (sspf.refusals), so whoever sends requests without a login cannot fill the log,
    which nobody can delete from. Rows go once their minute is recorded."""

    ip = models.CharField(max_length=45, blank=True)
    window = models.DateTimeField()  # the start of the minute
    count = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ip", "window"],
                                               name="refusaltally_one_per_address_minute")]

    def __str__(self) -> str:
        return f"Nekade anrop #{self.pk}"
