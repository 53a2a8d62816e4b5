"""Audit records: who did what to which object, and the hash chain over them.

An AccessEvent stores ids and codes copied at the time of the event, never objects,
names, identity numbers or free text from a case, so that it outlives the records it
refers to (gallring) and can be shown to an auditor without showing case content.
ChainLink rows link every AccessEvent and every django-auditlog LogEntry into one of
the hash chains (see audit/chain.py). Both tables, and auditlog's, are append-only:
database triggers refuse UPDATE, DELETE and TRUNCATE (audit/triggers.py).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PURPOSE_MAX_LENGTH = 500


class Action(models.TextChoices):
    VIEW = "view", _("Läsning")
    LIST = "list", _("Lista")
    SEARCH = "search", _("Sökning")
    CREATE = "create", _("Skapande")
    UPDATE = "update", _("Ändring")
    DELETE = "delete", _("Borttagning")
    EXPORT = "export", _("Export")
    PRINT = "print", _("Utskrift")
    LOGIN = "login", _("Inloggning")
    PASSWORD_OK = "password_ok", _("Lösenord godkänt (före engångskod)")
    LOGIN_FAILED = "login_failed", _("Misslyckad inloggning")
    OTP_FAILED = "otp_failed", _("Fel engångskod")
    OTP_ENROLLED = "otp_enrolled", _("Tvåstegsverifiering aktiverad")
    LOCKOUT = "lockout", _("Konto spärrat")
    LOGOUT = "logout", _("Utloggning")
    DENIED = "denied", _("Nekad åtkomst")
    CONSENT_GIVEN = "consent_given", _("Samtycke registrerat")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Samtycke återkallat")
    ACCOUNT_CREATED = "account_created", _("Konto skapat")
    ACCOUNT_CHANGED = "account_changed", _("Konto ändrat")
    PASSWORD_SET = "password_set", _("Lösenord satt av administratör")
    OTP_RESET = "otp_reset", _("Tvåstegsverifiering återställd av administratör")
    AUDIT_VERIFIED = "audit_verified", _("Loggkedjan verifierad")
    AUDIT_BROKEN = "audit_broken", _("Loggkedjan bruten")
    AUDIT_CHECKPOINT = "audit_checkpoint", _("Signerad kontrollpunkt för loggkedjan")
    MUNICIPALITY_CREATED = "municipality_created", _("Kommun skapad")
    MUNICIPALITY_CHANGED = "municipality_changed", _("Kommunens inställningar ändrade")
    ORGANISATION_CREATED = "organisation_created", _("Organisation skapad")
    ORGANISATION_CHANGED = "organisation_changed", _("Organisation ändrad")
    RESET_REQUESTED = "reset_requested", _("Återställning av inloggning begärd")
    RESET_APPROVED = "reset_approved", _("Återställning av inloggning godkänd")
    RESET_REJECTED = "reset_rejected", _("Återställning av inloggning avslagen")
    CASE_REFERRED = "case_referred", _("Ärendeförfrågan lämnad till ansvarig samordnare")
    ERASED = "erased", _("Gallrad")


class Outcome(models.TextChoices):
    ALLOWED = "allowed", _("Tillåten")
    DENIED = "denied", _("Nekad")
    FAILED = "failed", _("Misslyckad")


class AccessEvent(models.Model):
    occurred_at = models.DateTimeField(_("tidpunkt"), default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(_("användar-id"), null=True, blank=True, db_index=True)
    actor_username = models.CharField(_("användarnamn"), max_length=150, blank=True)
    actor_org_id = models.BigIntegerField(_("organisations-id"), null=True, blank=True)
    actor_role = models.CharField(_("roll"), max_length=32, blank=True)
    # Free-form code: Action lists the known ones, later features add their own.
    action = models.CharField(_("händelse"), max_length=40, db_index=True)
    outcome = models.CharField(_("utfall"), max_length=10, choices=Outcome.choices)
    object_type = models.CharField(_("objekttyp"), max_length=60, blank=True)
    object_id = models.CharField(_("objekt-id"), max_length=64, blank=True)
    case_id = models.BigIntegerField(_("ärende-id"), null=True, blank=True, db_index=True)
    youth_id = models.BigIntegerField(_("id för den unge"), null=True, blank=True, db_index=True)
    purpose = models.CharField(_("syfte"), max_length=PURPOSE_MAX_LENGTH, blank=True)
    request_id = models.CharField(_("anrops-id"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP-adress"), null=True, blank=True)
    user_agent = models.CharField(_("webbläsare"), max_length=300, blank=True)
    path = models.CharField(_("sökväg"), max_length=300, blank=True)
    # Marks for the log review, set when the event is written: "protected_identity" when
    # it concerns a young person with protected personal data (DESIGN §3). Null, not
    # empty, when there is none: a column added after the first events, so the hash of
    # an event without marks leaves it out and older events still verify.
    flags = models.CharField(_("markeringar"), max_length=100, null=True, blank=True)  # noqa: DJ001

    chain_optional_fields = ("flags",)  # left out of the record's hash while null

    class Meta:
        verbose_name = _("åtkomsthändelse")
        verbose_name_plural = _("åtkomsthändelser")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.outcome}"


class ChainLink(models.Model):
    class RecordType(models.TextChoices):
        ACCESS = "access", _("Åtkomsthändelse")
        CHANGE = "change", _("Ändringshistorik")

    chain = models.PositiveSmallIntegerField(_("kedja"))
    seq = models.BigIntegerField(_("löpnummer"))
    record_type = models.CharField(_("posttyp"), max_length=10, choices=RecordType.choices)
    record_id = models.BigIntegerField(_("post-id"))
    prev_hash = models.CharField(_("föregående hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        verbose_name = _("kedjelänk")
        verbose_name_plural = _("kedjelänkar")
        constraints = [
            # A fork (two links with one position) or a record chained twice is refused
            # by the database whatever the application does.
            models.UniqueConstraint(
                fields=["chain", "seq"], name="chainlink_one_link_per_position"
            ),
            models.UniqueConstraint(
                fields=["record_type", "record_id"], name="chainlink_one_link_per_record"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain}:{self.seq}"
