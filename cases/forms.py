from django import forms
from django.utils.translation import gettext_lazy as _

from cases.models import (
    ENTRY_TEXT_MAX_LENGTH,
    FACTOR_NOTE_MAX_LENGTH,
    PLAN_TEXT_MAX_LENGTH,
    SIGNAL_TEXT_MAX_LENGTH,
    STATUS_REASON_MAX_LENGTH,
    Case,
    ClosureReason,
    Commitment,
    Concern,
    Domain,
    Entry,
    FactorKind,
    FollowUp,
    Level,
    Signal,
)
from sspf.personnummer import InvalidIdentityNumber, parse


class NoEchoTextInput(forms.TextInput):
    """A text box that never writes the submitted value back into the page."""

    def format_value(self, value):
        return None


class SearchForm(forms.Form):
    personnummer = forms.CharField(label=_("Personnummer eller samordningsnummer"),
                                   max_length=20,
                                   widget=NoEchoTextInput(attrs={"autocomplete": "off"}))


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Alla")), ("open", _("Alla öppna")),
                                        *Case.Status.choices])


class PersonForm(forms.Form):
    personnummer = forms.CharField(label=_("Personnummer eller samordningsnummer"),
                                   max_length=20,
                                   help_text=_("ÅÅMMDD-NNNN eller ÅÅÅÅMMDDNNNN"),
                                   widget=forms.TextInput(attrs={"autocomplete": "off"}))
    first_name = forms.CharField(label=_("Förnamn"), max_length=100)
    last_name = forms.CharField(label=_("Efternamn"), max_length=100)
    address = forms.CharField(label=_("Adress"), max_length=200, required=False)
    phone = forms.CharField(label=_("Telefon"), max_length=40, required=False)
    protected_identity = forms.BooleanField(label=_("Skyddade personuppgifter"),
                                            required=False)

    def clean_personnummer(self):
        value = self.cleaned_data["personnummer"]
        try:
            parse(value)
        except InvalidIdentityNumber as exc:
            raise forms.ValidationError(str(exc)) from None
        return value


class CaseCreateForm(PersonForm):
    area = forms.ChoiceField(label=_("Område"), required=False)

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [("", _("Inget valt"))] + [(a, a) for a in areas]


class CaseEditForm(forms.Form):
    area = forms.ChoiceField(label=_("Område"), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, areas=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [("", _("Inget valt"))] + [(a, a) for a in areas]


class GuardianForm(PersonForm):
    custodian = forms.BooleanField(label=_("Har vårdnaden"), required=False, initial=True)
    version = forms.IntegerField(widget=forms.HiddenInput)


class MemberForm(forms.Form):
    username = forms.CharField(label=_("Användarnamn"), max_length=150)
    version = forms.IntegerField(widget=forms.HiddenInput)


class VersionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


class EntryForm(forms.Form):
    category = forms.ChoiceField(label=_("Kategori"), choices=Entry.Category.choices)
    text = forms.CharField(label=_("Text"), max_length=ENTRY_TEXT_MAX_LENGTH,
                           widget=forms.Textarea(attrs={"rows": 8}))
    statutory_basis = forms.CharField(
        label=_("Lagstöd (om uppgiften lämnas utan samtycke)"), max_length=200,
        required=False,
        help_text=_("Till exempel orosanmälan enligt 14 kap. 1 § SoL. Lämna tomt annars."),
    )
    statutory_recipient = forms.TypedChoiceField(
        label=_("Mottagare enligt lagstödet"), required=False, coerce=int, empty_value=None,
        help_text=_("Den organisation i teamet som lagstödet låter uppgiften nå. Övriga "
                    "ser den bara om samtycket tillåter det."),
    )

    def __init__(self, *args, recipients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["statutory_recipient"].choices = [("", "—"), *recipients]


class SignalForm(forms.Form):
    personnummer = forms.CharField(
        label=_("Personnummer eller samordningsnummer"), max_length=20, required=False,
        help_text=_("Lämna tomt om du inte vet det, och ange namn (och skola) i stället."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}))
    first_name = forms.CharField(label=_("Förnamn"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Efternamn"), max_length=100, required=False)
    school = forms.CharField(label=_("Skola"), max_length=150, required=False)
    concerns = forms.MultipleChoiceField(label=_("Oron gäller"), choices=Concern.choices,
                                         widget=forms.CheckboxSelectMultiple)
    text = forms.CharField(label=_("Beskriv oron"), max_length=SIGNAL_TEXT_MAX_LENGTH,
                           widget=forms.Textarea(attrs={"rows": 8}))
    report_of_concern_made = forms.BooleanField(
        label=_("Orosanmälan till socialtjänsten är gjord (14 kap. 1 § SoL)"), required=False)
    report_of_concern_date = forms.DateField(
        label=_("Orosanmälan gjord den"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}))
    protected_identity = forms.BooleanField(label=_("Den unge har skyddade personuppgifter"),
                                            required=False)


class TriageForm(forms.Form):
    action = forms.ChoiceField(label=_("Åtgärd"), widget=forms.RadioSelect, choices=[
        ("open_case", _("Öppna ett nytt ärende")),
        ("attach", _("Koppla till ett öppet ärende")),
        ("dismiss", _("Avskriv signalen")),
    ])
    case = forms.IntegerField(label=_("Ärendenummer (vid koppling)"), required=False,
                              min_value=1)
    personnummer = forms.CharField(
        label=_("Personnummer (om signalen saknar det)"), max_length=20, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}))
    first_name = forms.CharField(label=_("Förnamn (om signalen saknar det)"), max_length=100,
                                 required=False)
    last_name = forms.CharField(label=_("Efternamn (om signalen saknar det)"), max_length=100,
                                required=False)
    reason = forms.CharField(label=_("Skäl (vid avskrivning)"), required=False,
                             max_length=STATUS_REASON_MAX_LENGTH,
                             widget=forms.Textarea(attrs={"rows": 3}))


class SignalFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Alla")), *Signal.Status.choices])


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Ny status"), choices=[
        (s, label) for s, label in Case.Status.choices if s != Case.Status.CLOSED])
    reason = forms.CharField(label=_("Motivering"), required=False,
                             max_length=STATUS_REASON_MAX_LENGTH)


class CloseForm(forms.Form):
    reason = forms.ChoiceField(label=_("Skäl för avslut"),
                               choices=[("", "—"), *ClosureReason.choices])
    note = forms.CharField(label=_("Utfall och kommentar"), required=False,
                           max_length=STATUS_REASON_MAX_LENGTH,
                           widget=forms.Textarea(attrs={"rows": 5}))


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("Varför öppnas ärendet igen?"),
                             max_length=STATUS_REASON_MAX_LENGTH,
                             widget=forms.Textarea(attrs={"rows": 3}))


class AssessmentForm(forms.Form):
    """A new version of the kartläggning: a date, and per domain a risk and a protective
    factor, each rated or left out."""

    made_on = forms.DateField(label=_("Datum för kartläggningen"),
                              widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for domain, domain_label in Domain.choices:
            for kind, kind_label in FactorKind.choices:
                self.fields[f"{domain}_{kind}_level"] = forms.ChoiceField(
                    label=f"{domain_label}: {str(kind_label).lower()}", required=False,
                    choices=[("", _("Inte bedömd")), *Level.choices])
                self.fields[f"{domain}_{kind}_note"] = forms.CharField(
                    label=_("Kommentar"), required=False, max_length=FACTOR_NOTE_MAX_LENGTH)

    def rows(self):
        """(level field, note field) per domain and kind, for the template."""
        return [(self[f"{d}_{k}_level"], self[f"{d}_{k}_note"])
                for d in Domain.values for k in FactorKind.values]

    def factors(self) -> list[dict]:
        data = self.cleaned_data
        return [{"domain": d, "kind": k, "level": data[f"{d}_{k}_level"],
                 "note": data[f"{d}_{k}_note"]}
                for d in Domain.values for k in FactorKind.values if data[f"{d}_{k}_level"]]


class PlanForm(forms.Form):
    goals = forms.CharField(label=_("Mål"), max_length=PLAN_TEXT_MAX_LENGTH,
                            widget=forms.Textarea(attrs={"rows": 6}))


class CommitmentForm(forms.Form):
    organisation = forms.TypedChoiceField(label=_("Organisation"), coerce=int)
    responsible = forms.ChoiceField(label=_("Ansvarig"))
    description = forms.CharField(label=_("Åtagande"), max_length=PLAN_TEXT_MAX_LENGTH,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    due_on = forms.DateField(label=_("Klart senast"),
                             widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organisations=(), members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = [("", "—"), *organisations]
        self.fields["responsible"].choices = [("", "—"), *members]


class CommitmentStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Commitment.Status.choices)


class FollowUpForm(forms.Form):
    held_on = forms.DateField(label=_("Hölls den"), widget=forms.DateInput(attrs={"type": "date"}))
    outcome = forms.ChoiceField(label=_("Utfall"),
                                choices=[("", "—"), *FollowUp.Outcome.choices])
    note = forms.CharField(label=_("Anteckning"), required=False,
                           max_length=PLAN_TEXT_MAX_LENGTH,
                           widget=forms.Textarea(attrs={"rows": 4}))
    next_on = forms.DateField(label=_("Nästa uppföljning"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))
    propose_closure = forms.BooleanField(
        label=_("Föreslå att ärendet avslutas (i stället för en ny uppföljning)"),
        required=False)


class MeetingForm(forms.Form):
    held_at = forms.DateTimeField(label=_("Mötet hölls"), widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
    participants = forms.MultipleChoiceField(label=_("Deltagare från teamet"),
                                             widget=forms.CheckboxSelectMultiple)
    youth_present = forms.BooleanField(label=_("Den unge var med"), required=False)
    guardians_present = forms.TypedMultipleChoiceField(
        label=_("Vårdnadshavare som var med"), coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple)
    minutes = forms.CharField(label=_("Minnesanteckningar"), max_length=PLAN_TEXT_MAX_LENGTH,
                              widget=forms.Textarea(attrs={"rows": 8}))
    decisions = forms.CharField(label=_("Beslut"), required=False,
                                max_length=PLAN_TEXT_MAX_LENGTH,
                                widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, members=(), guardians=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participants"].choices = list(members)
        self.fields["guardians_present"].choices = list(guardians)
