from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Granskningslogg")

    def ready(self):
        from django.core import checks
        from django.db.models.signals import post_migrate, pre_migrate

        from audit import receivers  # noqa: F401  (connects the signal receivers)
        from audit.checks import audit_role_restricted
        from audit.database import grant_after_migrate
        from audit.triggers import reinstall_after_migrate, remove_before_migrate

        pre_migrate.connect(remove_before_migrate, sender=self,
                            dispatch_uid="audit-triggers-before-migrate")
        post_migrate.connect(reinstall_after_migrate, sender=self,
                             dispatch_uid="audit-triggers-after-migrate")
        post_migrate.connect(grant_after_migrate, sender=self,
                             dispatch_uid="audit-grants-after-migrate")
        checks.register(audit_role_restricted)
