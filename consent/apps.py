from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Samtycken")

    def ready(self):
        from audit.changes import register_personal_model
        from cases import policy, selectors
        from consent import enforcement
        from consent import selectors as consent_selectors
        from consent import services as consent_services
        from consent.models import ConsentDocument, ConsentGrant
        from consent.triggers import CONSENT  # noqa: F401  (registers the database guard)

        register_personal_model(ConsentGrant)
        register_personal_model(ConsentDocument)
        # The policy asks consent through this rule; cases never imports consent.
        policy.register_crossing_rule(enforcement.items_crossing_by_consent)
        policy.register_disclosure_rule(enforcement.consent_covers)
        selectors.register_case_flags(enforcement.consent_flags)
        selectors.register_start_section(consent_selectors.expiring_for_start_page)
        selectors.register_case_page_section("consent", consent_selectors.case_page_consent)
        selectors.register_timeline_source(consent_selectors.timeline_events)

        from sspf.services import OrganisationMoveHook, register_organisation_move_hook

        register_organisation_move_hook(OrganisationMoveHook(
            refusal=consent_services.organisation_in_grants))

        from cases.services.gallring import register_eraser

        register_eraser(consent_services.erase_for_cases)
