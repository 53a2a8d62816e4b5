from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    error_messages = {
        # One message whether the account exists or not, so the form reveals nothing.
        "invalid_login": _("Fel användarnamn eller lösenord."),
        "inactive": _("Fel användarnamn eller lösenord."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Användarnamn")
        self.fields["password"].label = _("Lösenord")


class TokenForm(forms.Form):
    code = forms.RegexField(
        label=_("Engångskod"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Engångskoden består av sex siffror.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self):
        return self.cleaned_data["code"].strip()


def apply_service_errors(form, exc) -> None:
    """Put a service's ValidationError on the form: each message on its field, or on
    the form as a whole when the form has no such field."""
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def flash_errors(request, errors: dict) -> None:
    """Show field errors as messages, for forms that redirect instead of re-rendering."""
    from django.contrib import messages

    for messages_of_field in errors.values():
        for message in messages_of_field:
            messages.error(request, message)
