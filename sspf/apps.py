from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SspfConfig(AppConfig):
    name = "sspf"
    verbose_name = _("Samverkan")

    def ready(self):
        from django.db.models.signals import post_migrate

        from audit.events import register_id_masker
        from sspf.personnummer import could_be_identity_number
        from sspf.roles import sync_role_permissions

        register_id_masker(could_be_identity_number)

        def _sync(sender, apps=None, **kwargs):
            from django.apps import apps as global_apps

            sync_role_permissions(apps or global_apps)

        # After migrate and after flush (which empties the groups) the roles are rebuilt.
        post_migrate.connect(_sync, dispatch_uid="sspf_sync_role_permissions", weak=False)
