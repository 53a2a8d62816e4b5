"""Staff roles and the model permissions each role's Django group carries.

A role is what a person does for their organisation; it is stored on the account
and mirrored as membership of one Django group of the same name. Model permissions
here say which *kinds* of object a role works with at all; whether a person may see
a given case is decided by ``cases.policy`` alone.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("SSPF-koordinator")
    SOCIAL_WORKER = "social_worker", _("Socialsekreterare")
    SCHOOL_STAFF = "school_staff", _("Skolpersonal")
    LEISURE_STAFF = "leisure_staff", _("Fritidspersonal")
    POLICE = "police", _("Polis")
    AUDITOR = "auditor", _("Granskare (logguppföljning)")
    LAGESBILD_ANALYST = "lagesbild_analyst", _("Analytiker (lägesbild)")
    ADMINISTRATOR = "administrator", _("Administratör")


# "app_label.codename" per role. Codenames of models that a later migration adds are
# skipped until that migration runs sync_role_permissions again.
_CASE_WORK = [
    "sspf.view_organisation",
    "sspf.view_municipality",
    "cases.view_case",
    "cases.view_youth",
    "cases.view_guardian",
    "cases.view_casemember",
    "cases.view_entry",
    "cases.add_entry",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.COORDINATOR: [
        *_CASE_WORK,
        "cases.add_case",
        "cases.change_case",
        "cases.manage_case",
        "cases.add_casemember",
        "cases.change_casemember",
        "cases.add_guardian",
        "cases.add_youth",
    ],
    Role.SOCIAL_WORKER: list(_CASE_WORK),
    Role.SCHOOL_STAFF: list(_CASE_WORK),
    Role.LEISURE_STAFF: list(_CASE_WORK),
    Role.POLICE: list(_CASE_WORK),
    Role.AUDITOR: [
        "sspf.view_organisation",
        "sspf.view_municipality",
        "sspf.view_user",
        "audit.view_accessevent",
    ],
    Role.LAGESBILD_ANALYST: ["sspf.view_municipality"],
    Role.ADMINISTRATOR: [
        "sspf.view_municipality",
        "sspf.add_municipality",
        "sspf.change_municipality",
        "sspf.view_organisation",
        "sspf.add_organisation",
        "sspf.change_organisation",
        "sspf.view_user",
        "sspf.add_user",
        "sspf.change_user",
        "sspf.view_credentialreset",
        "audit.view_accessevent",
    ],
}

# Roles that belong to a partner organisation in a municipality; only the
# administrator may be without one.
ROLES_WITHOUT_ORGANISATION = {Role.ADMINISTRATOR}

# Roles whose people work on cases. Auditors read logs, analysts read aggregates and
# administrators administer: none of them reads case content, whatever flags they have.
CASE_WORK_ROLES = frozenset(
    {Role.COORDINATOR, Role.SOCIAL_WORKER, Role.SCHOOL_STAFF, Role.LEISURE_STAFF, Role.POLICE}
)


def sync_role_permissions(apps, schema_editor=None) -> None:
    """Create every role group and give it exactly its listed permissions.

    Called from data migrations with the historical models, and after every
    ``migrate`` or ``flush`` (post_migrate) with the real ones. Permissions are normally
    created after all migrations; in a migration they are created here first so a
    fresh database gets complete groups in one ``migrate``.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    if apps is not global_apps:
        for app_config in apps.get_app_configs():
            app_config.models_module = True
            create_permissions(app_config, apps=apps, verbosity=0)
            app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=str(role))
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)
