"""Consent (samtycke) to share information between the partners of a case.

Glossary: *samtycke* = consent; *samtyckesgivare* = giver (the young person or one
guardian); *återkallelse* = withdrawal.

A ConsentGrant is what one giver agreed to: which organisations may share among
themselves, which categories of information, for what purpose, from when and until
when. Grants are never edited or deleted: a change is a new grant, a withdrawal is a
stamp on the grant. A giver's most recently recorded grant supersedes their earlier
ones (see consent.rules), so records are ordered by id, the recording order. Purpose and
withdrawal reason are free text and encrypted, bound to their grant's row like the
signed form's bytes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sspf.crypto import EncryptedBinaryField, EncryptedModel, EncryptedTextField


class ConsentGrant(EncryptedModel):
    class GiverType(models.TextChoices):
        YOUTH = "youth", _("Den unge")
        GUARDIAN = "guardian", pgettext_lazy("en person", "Vårdnadshavare")

    class Form(models.TextChoices):
        WRITTEN = "written", _("Skriftligt")
        ORAL = "oral", _("Muntligt, dokumenterat av personal")

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT,
                             related_name="consent_grants")
    giver_type = models.CharField(_("givare"), max_length=10, choices=GiverType.choices)
    guardian = models.ForeignKey("cases.Guardian", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="consent_grants")
    organisations = models.ManyToManyField("sspf.Organisation", related_name="+",
                                           verbose_name=_("organisationer"))
    categories = models.JSONField(_("kategorier"), default=list)
    purpose = EncryptedTextField(_("syfte"), max_length=1000)
    form = models.CharField(_("form"), max_length=10, choices=Form.choices)
    given_on = models.DateField(_("lämnat"))
    valid_until = models.DateField(_("giltigt t.o.m."))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField(_("registrerat"), auto_now_add=True)
    withdrawn_at = models.DateTimeField(_("återkallat"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+", null=True, blank=True)
    withdrawal_reason = EncryptedTextField(_("skäl för återkallelse"), max_length=1000,
                                           blank=True)

    class Meta:
        verbose_name = _("samtycke")
        verbose_name_plural = _("samtycken")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(giver_type="youth", guardian__isnull=True)
                           | models.Q(giver_type="guardian", guardian__isnull=False)),
                name="consentgrant_giver_matches_type",
            ),
            models.CheckConstraint(condition=models.Q(valid_until__gte=models.F("given_on")),
                                   name="consentgrant_valid_after_given"),
        ]

    def __str__(self) -> str:
        return f"Samtycke #{self.pk}"


class ConsentDocument(EncryptedModel):
    """The signed consent form of a grant, as uploaded: PDF or image, encrypted at rest,
    never replaced (a grant does not change)."""

    grant = models.OneToOneField(ConsentGrant, on_delete=models.PROTECT, related_name="document")
    content_type = models.CharField(max_length=30)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = EncryptedBinaryField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("samtyckesblankett")
        verbose_name_plural = _("samtyckesblanketter")

    def __str__(self) -> str:
        return f"Samtyckesblankett #{self.pk}"
