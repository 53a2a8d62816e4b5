from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def blind_index_fields(model) -> list[str]:
    """The model's blind indexes: keyed digests of identity numbers, named ``*_index``
    by convention. The change history leaves them out: a digest is the same for the
    same person in every record, so it would link records and confirm a guessed
    number to anyone holding the index key."""
    return [f.name for f in model._meta.concrete_fields if f.name.endswith("_index")]


# Plain fields that the change history says changed without saying what they held: what
# the anonymous facts are made of (area, months, closure reason, concern codes) and the
# ratings, so that the history of an erased case cannot be matched to its facts row or
# tell what was assessed.
HISTORY_MASKED = {
    "cases.Case": ("area", "opened_at", "closed_at", "closure_reason"),
    "cases.CaseStatusChange": ("closure_reason",),
    "cases.Signal": ("concerns", "report_of_concern_date"),
    "cases.Factor": ("domain", "kind", "level"),
    "cases.FollowUp": ("outcome",),
}


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Ärenden")

    def ready(self):
        from audit.changes import register_personal_model
        from audit.events import register_flagger
        from cases import models, policy

        register_flagger(policy.flag_protected_identity)

        from cases import services
        from cases.triggers import CASE_GUARD  # noqa: F401  (registers the database guard)
        from sspf.services import (
            OrganisationMoveHook,
            ReassignmentHook,
            register_organisation_move_hook,
            register_reassignment_hook,
        )

        register_reassignment_hook(ReassignmentHook(refusal=services.sole_lead_refusal,
                                                    end=services.end_team_access))
        register_organisation_move_hook(OrganisationMoveHook(
            refusal=services.organisation_in_cases))

        # Every case item type is in the change history without being named here.
        for model in (models.Youth, models.Guardian, models.Case, models.CaseMember,
                      models.CaseStatusChange, models.Factor, models.MeetingParticipant,
                      *models.case_item_models()):
            register_personal_model(model, exclude_fields=blind_index_fields(model),
                                    also_masked=HISTORY_MASKED.get(model._meta.label, ()))
