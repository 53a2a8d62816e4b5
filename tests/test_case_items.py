"""One shape for everything on a case: every item type inherits ``CaseItem`` and is
gated by ``policy.visible_items`` and the consent rule over its fields, with no rule of
its own; ``policy.ACTIONS`` says who may do what."""

import pytest
from django.core.exceptions import ValidationError

from cases import policy, services
from cases.models import Category, case_item_models
from tests.crypto_models import ProbeItem
from tests.test_consent import give_all

pytestmark = pytest.mark.django_db


def add_item(case, author, *, category, basis=None, recipient=None, note="anteckning"):
    errors = {}
    fields = services.item_fields(author, case, category=category, statutory_basis=basis or "",
                                  statutory_recipient=recipient, errors=errors)
    if errors:
        raise ValidationError(errors)
    return ProbeItem.objects.create(case=case, note=note, **fields)


def seen(user, case):
    return set(policy.visible_items(user, case, ProbeItem).values_list("pk", flat=True))


def test_every_case_action_has_its_row():
    assert set(policy.ACTIONS) == set(policy.CaseAction)


def test_a_new_item_type_is_gated_by_organisation_basis_and_consent(demo):
    elsa = demo.cases["Elsa"]
    school, social = demo["skolkurator"], demo["socialsekreterare"]
    own = add_item(elsa, school, category=Category.SCHOOL)
    reported = add_item(elsa, school, category=Category.SCHOOL, basis="SoL 14 kap. 1 §",
                        recipient=social.organisation_id)
    assert ProbeItem in case_item_models()

    assert seen(school, elsa) == {own.pk, reported.pk}
    assert seen(social, elsa) == {reported.pk}  # by the statutory basis alone
    assert seen(demo["fritidsledare"], elsa) == set()
    assert seen(demo["rektor2"], elsa) == set()  # another school, not on the team

    give_all(demo, elsa, categories=("school",), org_users=("skolkurator", "fritidsledare"))
    assert seen(demo["fritidsledare"], elsa) == {own.pk, reported.pk}
    assert seen(demo["polis"], elsa) == set()  # outside the consent


def test_the_shared_fields_are_checked_for_every_item_type(demo):
    elsa = demo.cases["Elsa"]
    school = demo["skolkurator"]
    errors = {}
    services.item_fields(school, elsa, category="gossip", statutory_basis="SoL",
                         statutory_recipient=demo["rektor2"].organisation_id, errors=errors)
    assert set(errors) == {"category", "statutory_recipient"}
    errors = {}
    services.item_fields(school, elsa, category="school", statutory_basis="x" * 201,
                         statutory_recipient=None, errors=errors)
    assert set(errors) == {"statutory_recipient", "statutory_basis"}
    assert not ProbeItem.objects.exists()


def test_an_organisation_with_items_of_any_type_stays_in_its_municipality(demo):
    other_school = demo["rektor2"]  # no entries anywhere
    assert services.organisation_in_cases(other_school.organisation) is None
    ProbeItem.objects.create(case=demo.cases["Elsa"], author=other_school,
                            source_org=other_school.organisation, category=Category.SCHOOL,
                            note="från en annan skola")
    assert services.organisation_in_cases(other_school.organisation) is not None
