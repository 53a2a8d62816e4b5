"""Personal case records.

Glossary: *ungdom* = Youth, the young person the case is about; *vårdnadshavare* =
Guardian (``custodian`` marks legal custody); *ärende* = Case; *ärendeteam* = the
case's members; *anteckning* = Entry; *lagstöd* = statutory basis, the legal ground on
which an entry may cross organisation lines without consent (for example a report of
concern under SoL 14 kap. 1 §).

Names, identity numbers, addresses, phone numbers and free text are encrypted
(sspf.crypto), each value bound to its row; identity numbers are found through their
blind index. The young person's birth date and sex are not stored at all: they are read
from the identity number. ``__str__`` of these models shows ids only. Nothing here
decides access: that is cases/policy.py.
"""

from __future__ import annotations

from datetime import date

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from sspf.crypto import EncryptedCharField, EncryptedModel, EncryptedTextField
from sspf.models import Municipality, Organisation
from sspf.personnummer import IdentityNumber, parse

ENTRY_TEXT_MAX_LENGTH = 20_000


class Gender(models.TextChoices):
    FEMALE = "F", _("Flicka")
    MALE = "M", _("Pojke")


class PersonFields(EncryptedModel):
    personnummer = EncryptedCharField(_("personnummer"), max_length=13)
    personnummer_index = models.CharField(max_length=64, editable=False)
    first_name = EncryptedCharField(_("förnamn"), max_length=100)
    last_name = EncryptedCharField(_("efternamn"), max_length=100)
    address = EncryptedCharField(_("adress"), max_length=200, blank=True)
    phone = EncryptedCharField(_("telefon"), max_length=40, blank=True)
    protected_identity = models.BooleanField(_("skyddade personuppgifter"), default=False)

    class Meta:
        abstract = True


class Youth(PersonFields):
    """The young person as registered in one case. A young person who returns after a
    closed case gets a new record with the new case: the new team starts from what it
    registers itself, not from what an earlier team knew (guardians, contact details),
    the earlier case keeps its record unchanged, and each record can be thinned out
    with its own case. Only a protected identity carries over (see case_create)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("ungdom")
        verbose_name_plural = _("ungdomar")

    def __str__(self) -> str:
        return f"Ungdom #{self.pk}"

    # Birth date and sex follow from the identity number, so they are as protected as
    # the number is; nothing needs them in SQL. None only for a record without a number.
    @property
    def birth_date(self) -> date | None:
        """The real birth date (for a samordningsnummer the day less 60)."""
        number = self._identity_number()
        return number.birth_date if number else None

    @property
    def gender(self) -> Gender | None:
        """From the second-to-last digit of the number: odd for a man, even for a woman."""
        number = self._identity_number()
        return Gender(number.gender) if number else None

    def _identity_number(self) -> IdentityNumber | None:
        return parse(self.personnummer) if self.personnummer else None


class Guardian(PersonFields):
    youth = models.ForeignKey(Youth, on_delete=models.CASCADE, related_name="guardians")
    custodian = models.BooleanField(_("vårdnadshavare"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("vårdnadshavare")
        verbose_name_plural = _("vårdnadshavare")
        constraints = [
            models.UniqueConstraint(
                fields=["youth", "personnummer_index"], name="guardian_once_per_youth"
            )
        ]

    def __str__(self) -> str:
        return f"Vårdnadshavare #{self.pk}"


class Case(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Öppet")
        CLOSED = "closed", _("Avslutat")

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    youth = models.ForeignKey(Youth, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.OPEN)
    area = models.CharField(_("område"), max_length=100, blank=True)
    opened_at = models.DateField(_("öppnat"), default=timezone.localdate)
    closed_at = models.DateField(_("avslutat"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    # The young person's blind index, so the database itself allows one open case per
    # person and municipality across the per-case youth records.
    youth_index = models.CharField(max_length=64, editable=False)

    class Meta:
        verbose_name = _("ärende")
        verbose_name_plural = _("ärenden")
        ordering = ["-opened_at", "-id"]
        permissions = [("manage_case", _("Leda ärendet (team, vårdnadshavare, uppgifter)"))]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "youth_index"],
                condition=models.Q(status="open"),
                name="case_one_open_per_person_and_municipality",
            ),
        ]

    def __str__(self) -> str:
        return f"Ärende #{self.pk}"

    def team_organisations(self):
        """Organisations of the case's current members."""
        return Organisation.objects.filter(pk__in=self.memberships.filter(
            removed_at__isnull=True).values("user__organisation_id"))

    def team_organisation_ids(self) -> set[int]:
        return set(self.team_organisations().values_list("pk", flat=True))


class CaseUserObjectPermission(UserObjectPermissionBase):
    """django-guardian's per-object permission, with a real foreign key to the case so
    the policy's filters are plain joins."""

    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseMember(models.Model):
    class CaseRole(models.TextChoices):
        LEAD = "lead", _("Ansvarig samordnare")
        MEMBER = "member", _("Teammedlem")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="case_memberships")
    role_in_case = models.CharField(_("roll i ärendet"), max_length=10,
                                    choices=CaseRole.choices, default=CaseRole.MEMBER)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")
    added_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", null=True, blank=True)

    class Meta:
        verbose_name = _("teammedlem")
        verbose_name_plural = _("teammedlemmar")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "user"],
                condition=models.Q(removed_at__isnull=True),
                name="casemember_once_while_active",
            )
        ]

    def __str__(self) -> str:
        return f"Teammedlem #{self.pk}"


class Category(models.TextChoices):
    """The information categories consent is given for, one per item."""

    BASIC = "basic", _("Grunduppgifter")
    SCHOOL = "school", _("Skola")
    SOCIAL = "social", _("Socialtjänst")
    POLICE = "police", _("Polis")
    LEISURE = "leisure", _("Fritid")
    HEALTH = "health", _("Hälsa")


class CaseItem(EncryptedModel):
    """The shape of everything an organisation contributes to a case: entries, signals
    taken up, assessments, meeting minutes, commitments, follow-ups. One gate decides who
    sees an item, ``policy.visible_items(user, case, Model)``, over these field names:
    the author's organisation (``source_org``), the information ``category``, and a
    statutory basis with the one organisation it lets the item reach. A new item type
    inherits this and writes no visibility rule of its own (docs/adding-a-case-item.md).
    """

    Category = Category

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    source_org = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(_("kategori"), max_length=10, choices=Category.choices)
    # Free text typed by staff, so encrypted like the item itself; null when there is
    # none (an encrypted column can only be asked whether it is null).
    statutory_basis = EncryptedCharField(_("lagstöd"), max_length=200, null=True, blank=True)
    # The one organisation the statutory basis lets the item reach (a report of concern
    # under SoL 14:1 goes to social services, not to the whole team).
    statutory_recipient = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", null=True, blank=True,
        verbose_name=_("mottagare enligt lagstödet"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    @classmethod
    def recipient_needs_basis(cls, name: str) -> models.CheckConstraint:
        """A recipient only with a basis; the constraint each item type declares."""
        return models.CheckConstraint(
            condition=models.Q(statutory_recipient__isnull=True)
            | models.Q(statutory_basis__isnull=False),
            name=name,
        )


def case_item_models() -> list[type[CaseItem]]:
    """Every concrete item type (for what asks all of them, such as whether an
    organisation has work on the municipality's cases)."""
    return [m for m in apps.get_models() if issubclass(m, CaseItem)]


class Entry(CaseItem):
    text = EncryptedTextField(_("text"), max_length=ENTRY_TEXT_MAX_LENGTH)

    class Meta:
        verbose_name = _("anteckning")
        verbose_name_plural = _("anteckningar")
        ordering = ["-created_at", "-id"]
        constraints = [
            # The service also requires a recipient for a basis; entries written before
            # recipients existed keep their basis and reach no other organisation by it.
            CaseItem.recipient_needs_basis("entry_statutory_recipient_needs_basis"),
        ]

    def __str__(self) -> str:
        return f"Anteckning #{self.pk}"
