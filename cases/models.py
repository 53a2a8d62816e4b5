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

import uuid
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
SIGNAL_TEXT_MAX_LENGTH = 5_000
STATUS_REASON_MAX_LENGTH = 2_000
FACTOR_NOTE_MAX_LENGTH = 2_000
PLAN_TEXT_MAX_LENGTH = 5_000


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


class ClosureReason(models.TextChoices):
    GOALS_MET = "goals_met", _("Målen är uppnådda")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Samtycket har återkallats")
    MOVED = "moved", _("Den unge har flyttat")
    AGED_OUT = "aged_out", _("Den unge har passerat åldersgränsen")
    ESCALATED = "escalated_social_services", _("Överlämnat till socialtjänsten")
    DECLINED = "declined", _("Den unge eller vårdnadshavarna tackade nej")
    OTHER = "other", _("Annat")


class AgeBand(models.TextChoices):
    UNDER_13 = "<13", _("Under 13 år")
    AGE_13_15 = "13-15", _("13–15 år")
    AGE_16_17 = "16-17", _("16–17 år")
    ADULT = "18+", _("18 år och äldre")

    @classmethod
    def of(cls, age: int) -> AgeBand:
        if age < 13:
            return cls.UNDER_13
        if age <= 15:
            return cls.AGE_13_15
        if age <= 17:
            return cls.AGE_16_17
        return cls.ADULT


class CaseFacts(models.Model):
    """The de-identified projection of one case, kept after gallring: what the
    lägesbild counts (through cases/aggregates.py), and nothing that names or points
    to a person. The case holds the link to its row, never the other way round, and
    the key is random, so neither a foreign key nor the order of the rows leads back
    to a case id in the audit log once the case is erased. Months, not days; an age
    band, not a birth date; codes, not text."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    area = models.CharField(max_length=100, blank=True)
    opened_month = models.DateField()
    closed_month = models.DateField(null=True, blank=True)
    age_band = models.CharField(max_length=5, choices=AgeBand.choices, blank=True)
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True)
    concerns = models.JSONField(default=list)
    signal_source_kinds = models.JSONField(default=list)
    closure_reason = models.CharField(max_length=30, choices=ClosureReason.choices, blank=True)
    erased = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("anonyma ärendeuppgifter")
        verbose_name_plural = _("anonyma ärendeuppgifter")
        indexes = [models.Index(fields=["municipality", "opened_month"],
                                name="casefacts_municipality_month")]

    def __str__(self) -> str:
        return "Anonyma ärendeuppgifter"


class Case(models.Model):
    class Status(models.TextChoices):
        ASSESSING = "assessing", _("Kartläggning")
        ACTIVE = "active", _("Aktivt")
        FOLLOW_UP = "follow_up", _("Uppföljning")
        CLOSED = "closed", _("Avslutat")

    # Every status but closed: the case is worked on, and its record can be written.
    OPEN_STATUSES = (Status.ASSESSING, Status.ACTIVE, Status.FOLLOW_UP)

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    youth = models.ForeignKey(Youth, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.ASSESSING)
    area = models.CharField(_("område"), max_length=100, blank=True)
    opened_at = models.DateField(_("öppnat"), default=timezone.localdate)
    closed_at = models.DateField(_("avslutat"), null=True, blank=True)
    closure_reason = models.CharField(_("skäl för avslut"), max_length=30,
                                      choices=ClosureReason.choices, blank=True)
    facts = models.OneToOneField(CaseFacts, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", editable=False)
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
                condition=~models.Q(status="closed"),
                name="case_one_open_per_person_and_municipality",
            ),
            models.CheckConstraint(
                condition=models.Q(status="closed", closed_at__isnull=False)
                | (~models.Q(status="closed") & models.Q(closed_at__isnull=True)),
                name="case_closed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"Ärende #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED

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

    @classmethod
    def of_organisation(cls, organisation: Organisation) -> Category:
        """The category of what an organisation of this kind contributes on its own
        account (a signal it raises, an assessment it makes)."""
        return {
            Organisation.Kind.SCHOOL: cls.SCHOOL,
            Organisation.Kind.SOCIAL_SERVICES: cls.SOCIAL,
            Organisation.Kind.POLICE: cls.POLICE,
            Organisation.Kind.LEISURE: cls.LEISURE,
        }.get(organisation.kind, cls.BASIC)


class CaseItem(EncryptedModel):
    """The shape of everything an organisation contributes to a case: entries, signals
    taken up, assessments, meeting minutes, commitments, follow-ups. One gate decides who
    sees an item, ``policy.visible_items(user, case, Model)``, over these field names:
    the author's organisation (``source_org``), the information ``category``, and a
    statutory basis with the one organisation it lets the item reach. A new item type
    inherits this and writes no visibility rule of its own (docs/adding-a-case-item.md).
    """

    Category = Category
    # An item addressed to the coordination (a signal) reaches the case's coordinators
    # whatever its category; the gate reads this, the type declares it.
    reaches_case_coordinators = False
    # A relation path to the organisations an item is meant for (a meeting's
    # participants'): the gate lets it reach no other organisation than these and its
    # own, and those still only as the consent allows. None: no narrowing.
    audience: str | None = None

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


class CaseStatusChange(EncryptedModel):
    """One move of a case from one status to another: who, when, from, to and why.
    The reason is free text (for a closure, the outcome note), so encrypted."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=10, choices=Case.Status.choices)
    to_status = models.CharField(max_length=10, choices=Case.Status.choices)
    closure_reason = models.CharField(max_length=30, choices=ClosureReason.choices,
                                      blank=True)
    reason = EncryptedTextField(_("motivering"), max_length=STATUS_REASON_MAX_LENGTH,
                                blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("statusändring")
        verbose_name_plural = _("statusändringar")
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"Statusändring #{self.pk}"


class Concern(models.TextChoices):
    """What a signal of concern is about (one or more per signal)."""

    ABSENCE = "absence", _("Frånvaro från skolan")
    AGGRESSION = "aggression", _("Aggressivt beteende")
    CRIMINAL_PEERS = "criminal_peers", _("Kriminella kamrater")
    OWN_CRIME = "own_crime", _("Egen brottslighet")
    ALCOHOL_DRUGS = "alcohol_drugs", _("Alkohol eller droger")
    RISKY_PLACES = "risky_places", _("Vistas på riskfyllda platser")
    NO_POSITIVE_LEISURE = "no_positive_leisure", _("Saknar meningsfull fritid")
    FAMILY_SITUATION = "family_situation", _("Familjesituationen")
    OTHER = "other", _("Annat")


class Signal(CaseItem):
    """A signal of concern (orosignal) about a young person, raised by any case-work
    staff member. Until a coordinator takes it up it belongs to no case (``case`` is
    empty) and is seen only by its reporter and the municipality's coordinators; taken
    up, it is an item of the case like an entry, from the reporter's organisation and in
    that organisation's category, so consent gates it. Addressed to the coordination, it
    also reaches the case's coordinators (``reaches_case_coordinators``)."""

    class Status(models.TextChoices):
        NEW = "new", _("Ny")
        TAKEN_UP = "taken_up", _("Tagen om hand")
        DISMISSED = "dismissed", _("Avskriven")

    reaches_case_coordinators = True

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+", null=True,
                             blank=True)
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    personnummer = EncryptedCharField(_("personnummer"), max_length=13, blank=True)
    personnummer_index = models.CharField(max_length=64, blank=True, editable=False)
    first_name = EncryptedCharField(_("förnamn"), max_length=100, blank=True)
    last_name = EncryptedCharField(_("efternamn"), max_length=100, blank=True)
    school = EncryptedCharField(_("skola"), max_length=150, blank=True)
    concerns = models.JSONField(_("oro gäller"), default=list)
    text = EncryptedTextField(_("beskrivning"), max_length=SIGNAL_TEXT_MAX_LENGTH)
    report_of_concern_made = models.BooleanField(_("orosanmälan gjord"), default=False)
    report_of_concern_date = models.DateField(_("orosanmälan gjord den"), null=True,
                                              blank=True)
    protected_identity = models.BooleanField(_("skyddade personuppgifter"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.NEW)
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", null=True, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    dismissal_reason = EncryptedTextField(_("skäl"), max_length=STATUS_REASON_MAX_LENGTH,
                                          blank=True)

    class Meta:
        verbose_name = _("orosignal")
        verbose_name_plural = _("orosignaler")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["municipality", "status", "created_at"],
                                name="signal_triage_queue")]
        constraints = [
            CaseItem.recipient_needs_basis("signal_statutory_recipient_needs_basis"),
            models.CheckConstraint(
                condition=models.Q(status="taken_up", case__isnull=False)
                | (~models.Q(status="taken_up") & models.Q(case__isnull=True)),
                name="signal_taken_up_has_case",
            ),
        ]

    def __str__(self) -> str:
        return f"Orosignal #{self.pk}"

    @property
    def concern_labels(self) -> list[str]:
        return [str(Concern(code).label) for code in self.concerns if code in Concern.values]


class Domain(models.TextChoices):
    """The life domains a kartläggning rates factors in."""

    INDIVIDUAL = "individual", _("Individ")
    FAMILY = "family", _("Familj")
    SCHOOL = "school", _("Skola")
    PEERS = "peers", _("Kamrater")
    LEISURE = "leisure", _("Fritid")
    NEIGHBOURHOOD = "neighbourhood", _("Närmiljö")


class FactorKind(models.TextChoices):
    RISK = "risk", _("Riskfaktor")
    PROTECTIVE = "protective", _("Skyddsfaktor")


class Level(models.TextChoices):
    LOW = "low", _("Låg")
    MEDIUM = "medium", _("Medel")
    HIGH = "high", _("Hög")

    @property
    def rank(self) -> int:
        return [Level.LOW, Level.MEDIUM, Level.HIGH].index(self)


class Assessment(CaseItem):
    """One version of the case's kartläggning by one organisation: its factor ratings
    (``Factor``). A new version is a new row, numbered within the case; none is ever
    changed, so any two can be compared."""

    number = models.PositiveIntegerField(_("version"))
    made_on = models.DateField(_("gjord"))

    class Meta:
        verbose_name = _("kartläggning")
        verbose_name_plural = _("kartläggningar")
        ordering = ["-number"]
        constraints = [
            CaseItem.recipient_needs_basis("assessment_statutory_recipient_needs_basis"),
            models.UniqueConstraint(fields=["case", "number"],
                                    name="assessment_one_number_per_case"),
        ]

    def __str__(self) -> str:
        return f"Kartläggning #{self.pk}"


class Factor(EncryptedModel):
    """A risk or protective factor of one domain, rated in one assessment version."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="factors")
    domain = models.CharField(_("område"), max_length=20, choices=Domain.choices)
    kind = models.CharField(_("typ"), max_length=10, choices=FactorKind.choices)
    level = models.CharField(_("nivå"), max_length=10, choices=Level.choices)
    note = EncryptedTextField(_("kommentar"), max_length=FACTOR_NOTE_MAX_LENGTH, blank=True)

    class Meta:
        verbose_name = _("faktor")
        verbose_name_plural = _("faktorer")
        constraints = [models.UniqueConstraint(fields=["assessment", "domain", "kind"],
                                               name="factor_once_per_domain_and_kind")]

    def __str__(self) -> str:
        return f"Faktor #{self.pk}"


class ActionPlan(CaseItem):
    """The case's åtagandeplan: its goals (encrypted) and, through ``Commitment``, who
    does what by when. One per case; the coordinators edit it. Agreed once, it moves
    the case to active and the follow-ups start."""

    reaches_case_coordinators = True

    goals = EncryptedTextField(_("mål"), max_length=PLAN_TEXT_MAX_LENGTH)
    agreed_on = models.DateField(_("överenskommen"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("åtagandeplan")
        verbose_name_plural = _("åtagandeplaner")
        constraints = [
            CaseItem.recipient_needs_basis("actionplan_statutory_recipient_needs_basis"),
            models.UniqueConstraint(fields=["case"], name="actionplan_one_per_case"),
        ]

    def __str__(self) -> str:
        return f"Åtagandeplan #{self.pk}"


class Commitment(CaseItem):
    """What one partner organisation on the team promised: the organisation is the
    item's ``source_org`` (its information, in its category), with a responsible member
    of it; the coordinator who wrote it down is the author. The responsible person and
    the coordinators update its status."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planerad")
        ONGOING = "ongoing", _("Pågår")
        DONE = "done", _("Klar")
        DROPPED = "dropped", _("Struken")

    OPEN_STATUSES = (Status.PLANNED, Status.ONGOING)
    reaches_case_coordinators = True

    responsible = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="commitments")
    description = EncryptedTextField(_("beskrivning"), max_length=PLAN_TEXT_MAX_LENGTH)
    due_on = models.DateField(_("klart senast"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PLANNED)

    class Meta:
        verbose_name = _("åtagande")
        verbose_name_plural = _("åtaganden")
        ordering = ["due_on", "id"]
        constraints = [
            CaseItem.recipient_needs_basis("commitment_statutory_recipient_needs_basis")]
        indexes = [models.Index(fields=["status", "due_on"], name="commitment_due")]

    def __str__(self) -> str:
        return f"Åtagande #{self.pk}"


class FollowUp(CaseItem):
    """One follow-up of the plan: scheduled for ``due_on``, and once held, when, with
    what outcome and note, and whether it proposed closing the case. Holding one
    schedules the next, unless it proposes closure."""

    class Outcome(models.TextChoices):
        IMPROVED = "improved", _("Förbättrat")
        UNCHANGED = "unchanged", _("Oförändrat")
        WORSENED = "worsened", _("Försämrat")

    reaches_case_coordinators = True

    due_on = models.DateField(_("planerad"))
    held_on = models.DateField(_("hölls"), null=True, blank=True)
    outcome = models.CharField(_("utfall"), max_length=10, choices=Outcome.choices,
                               blank=True)
    note = EncryptedTextField(_("anteckning"), max_length=PLAN_TEXT_MAX_LENGTH, blank=True)
    propose_closure = models.BooleanField(_("föreslår avslut"), default=False)

    class Meta:
        verbose_name = _("uppföljning")
        verbose_name_plural = _("uppföljningar")
        ordering = ["due_on", "id"]
        constraints = [
            CaseItem.recipient_needs_basis("followup_statutory_recipient_needs_basis"),
            # At most one follow-up waits to be held in a case at a time.
            models.UniqueConstraint(fields=["case"], condition=models.Q(held_on__isnull=True),
                                    name="followup_one_scheduled_per_case"),
        ]
        indexes = [models.Index(fields=["held_on", "due_on"], name="followup_due")]

    def __str__(self) -> str:
        return f"Uppföljning #{self.pk}"


class Meeting(CaseItem):
    """A network meeting (nätverksmöte): when, who took part (team members; the young
    person and guardians as present or not), the minutes and the decisions (encrypted).
    Its minutes reach only the organisations of its participants (``audience``), and
    those under the same consent rule as any item."""

    # The organisations the participants acted for at the meeting, kept with them: a
    # participant who later moves to another organisation does not take the minutes along.
    audience = "participants__organisation"

    held_at = models.DateTimeField(_("hölls"))
    youth_present = models.BooleanField(_("den unge var med"), default=False)
    guardians_present = models.ManyToManyField(Guardian, blank=True, related_name="+",
                                               verbose_name=_("vårdnadshavare som var med"))
    minutes = EncryptedTextField(_("minnesanteckningar"), max_length=PLAN_TEXT_MAX_LENGTH)
    decisions = EncryptedTextField(_("beslut"), max_length=PLAN_TEXT_MAX_LENGTH, blank=True)

    class Meta:
        verbose_name = _("nätverksmöte")
        verbose_name_plural = _("nätverksmöten")
        ordering = ["-held_at", "-id"]
        constraints = [
            CaseItem.recipient_needs_basis("meeting_statutory_recipient_needs_basis")]

    def __str__(self) -> str:
        return f"Nätverksmöte #{self.pk}"


class MeetingParticipant(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "user"],
                                               name="meeting_participant_once")]

    def __str__(self) -> str:
        return f"Mötesdeltagare #{self.pk}"
