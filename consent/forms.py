from django import forms
from django.utils.translation import gettext_lazy as _

from cases.models import Entry
from consent.models import ConsentGrant


class GrantForm(forms.Form):
    giver = forms.ChoiceField(label=_("Vem lämnar samtycket"))
    organisations = forms.MultipleChoiceField(
        label=_("Organisationer som får dela uppgifter med varandra"),
        widget=forms.CheckboxSelectMultiple)
    categories = forms.MultipleChoiceField(
        label=_("Kategorier av uppgifter"), choices=Entry.Category.choices,
        widget=forms.CheckboxSelectMultiple)
    purpose = forms.CharField(label=_("Syfte"), max_length=1000,
                              widget=forms.Textarea(attrs={"rows": 3}))
    form = forms.ChoiceField(label=_("Form"), choices=ConsentGrant.Form.choices)
    given_on = forms.DateField(label=_("Lämnat (ÅÅÅÅ-MM-DD)"), required=False,
                               help_text=_("Tomt betyder i dag."))
    valid_until = forms.DateField(label=_("Giltigt t.o.m. (ÅÅÅÅ-MM-DD)"), required=False,
                                  help_text=_("Tomt betyder kommunens giltighetstid."))

    def __init__(self, *args, givers=(), organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["giver"].choices = givers
        self.fields["organisations"].choices = organisations


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Skäl till återkallelsen"), max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 3}))
