"""The municipality's settings: the defaults the issue fixes, and refused values."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from sspf.models import Municipality

pytestmark = pytest.mark.django_db


def test_a_new_municipality_starts_from_the_agreed_defaults():
    m = Municipality.objects.create(name="Nystad")
    assert (m.age_min, m.age_max) == (12, 18)
    assert m.own_consent_age == 15
    assert m.follow_up_interval_weeks == 6
    assert m.consent_validity_months == 12
    assert m.retention_years == 3
    assert m.suppression_threshold == 5
    assert m.social_worker_records_consent is False


def test_an_age_span_upside_down_is_refused_by_form_and_database():
    m = Municipality(name="Bakvänd", age_min=18, age_max=12)
    with pytest.raises(ValidationError) as exc:
        m.full_clean()
    assert "age_min" in exc.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        m.save()
    assert not Municipality.objects.filter(name="Bakvänd").exists()


@pytest.mark.parametrize(("field", "value"), [
    ("own_consent_age", 11), ("own_consent_age", 19), ("suppression_threshold", 2),
    ("consent_validity_months", 0), ("follow_up_interval_weeks", 53),
])
def test_values_outside_their_range_name_the_field(field, value):
    m = Municipality(name="Gränsby", **{field: value})
    with pytest.raises(ValidationError) as exc:
        m.full_clean()
    assert list(exc.value.message_dict) == [field]
