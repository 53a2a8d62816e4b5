from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SspfConfig(AppConfig):
    name = "sspf"
    verbose_name = _("Samverkan")
