from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Granskningslogg")

    def ready(self):
        from django.db.models.signals import post_migrate

        from audit import receivers  # noqa: F401  (connects the signal receivers)
        from audit.triggers import reinstall_after_migrate

        post_migrate.connect(reinstall_after_migrate, sender=self,
                             dispatch_uid="audit-triggers-after-migrate")
