from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sspf.personnummer import InvalidIdentityNumber, age_on, check_digit, luhn_ok, parse

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("given", "normalised", "birth", "coordination"),
    [
        ("121212-1212", "201212121212", date(2012, 12, 12), False),
        ("19121212-1212", "191212121212", date(1912, 12, 12), False),
        ("191212121212", "191212121212", date(1912, 12, 12), False),
        ("1212121212", "201212121212", date(2012, 12, 12), False),
        (" 121212-1212 ", "201212121212", date(2012, 12, 12), False),
        ("121212+1212", "191212121212", date(1912, 12, 12), False),
        # samordningsnummer: day + 60
        ("701063-2391", "197010632391", date(1970, 10, 3), True),
        ("19701063-2391", "197010632391", date(1970, 10, 3), True),
        # two-digit year resolved against the reference date
        ("100101-0006", "201001010006", date(2010, 1, 1), False),
        # '+' says the person has turned 100
        ("100101+0006", "191001010006", date(1910, 1, 1), False),
        # ... so a '+' birthday later this year lies two centuries back
        ("261201+1235", "182612011235", date(1826, 12, 1), False),
        ("261101+1236", "192611011236", date(1926, 11, 1), False),
        # the oldest and the newest century
        ("18121212-1212", "181212121212", date(1812, 12, 12), False),
        ("20121212-1212", "201212121212", date(2012, 12, 12), False),
    ],
)
def test_valid_numbers_parse_and_normalise(given, normalised, birth, coordination):
    number = parse(given, today=TODAY)
    assert number.normalised == normalised
    assert number.birth_date == birth
    assert number.coordination is coordination


@pytest.mark.parametrize(
    ("given", "message_part"),
    [
        ("121212-1213", "Kontrollsiffran"),  # bad check digit
        ("19121212-1213", "Kontrollsiffran"),
        ("990230-1234", "födelsedatum"),  # 30 February
        ("991301-1234", "födelsedatum"),  # month 13
        ("19990931-0000", "födelsedatum"),  # 31 September
        ("20301010-1234", "födelsedatum"),  # in the future
        ("991093-1234", "födelsedatum"),  # samordningsnummer day 33
        # the twelve-digit form names the century: only 18, 19 and 20 occur
        ("00121212-1212", "födelsedatum"),
        ("001212121212", "födelsedatum"),
        ("17121212-1212", "födelsedatum"),
        ("21000101-0008", "födelsedatum"),
        ("99121212-1212", "födelsedatum"),
        ("12121-1212", "ÅÅMMDD"),
        ("abcdef-ghij", "ÅÅMMDD"),
        ("", "ÅÅMMDD"),
        ("19121212+1212", "Plustecken"),
        ("１２１２１２-１２１２", "ÅÅMMDD"),  # full-width digits
        ("١٢١٢١٢-١٢١٢", "ÅÅMMDD"),  # Arabic-Indic digits
    ],
)
def test_invalid_numbers_are_refused_with_a_message(given, message_part):
    with pytest.raises(InvalidIdentityNumber) as exc:
        parse(given, today=TODAY)
    assert message_part in str(exc.value)
    # the message never repeats the number
    if given.strip():
        assert given.strip() not in str(exc.value)


def test_gender_and_age_from_number():
    number = parse("100101-0006", today=TODAY)
    assert number.gender == "F"  # second-to-last digit 0 is even
    assert number.age_on(TODAY) == 16
    assert number.age_on(date(2026, 1, 1)) == 16
    assert number.age_on(date(2025, 12, 31)) == 15


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(2023, 2, 27), 14),
        # lag (1930:173) 1 §: no 29 February in 2023, so the birthday is 28 February
        (date(2023, 2, 28), 15),
        (date(2023, 3, 1), 15),
        # a leap year has the day itself
        (date(2024, 2, 28), 15),
        (date(2024, 2, 29), 16),
        (date(2024, 3, 1), 16),
        (date(2026, 2, 28), 18),
        (date(2100, 2, 28), 92),  # 2100 is not a leap year
    ],
)
def test_born_on_29_february_reaches_an_age_on_28_february_without_a_leap_day(day, age):
    assert age_on(date(2008, 2, 29), day) == age


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2008, 2, 28), date(2023, 2, 27), 14),
        (date(2008, 2, 28), date(2023, 2, 28), 15),
        (date(2008, 3, 1), date(2024, 2, 29), 15),
        (date(2008, 3, 1), date(2024, 3, 1), 16),
        (date(2008, 12, 31), date(2026, 12, 30), 17),
        (date(2008, 12, 31), date(2026, 12, 31), 18),
    ],
)
def test_other_birthdays_are_reached_on_the_day(birth, day, age):
    assert age_on(birth, day) == age


def test_identity_number_and_consent_rules_count_age_alike():
    from consent import rules

    number = parse("080229-2383", today=date(2026, 11, 22))
    assert number.birth_date == date(2008, 2, 29)
    assert number.age_on(date(2026, 2, 28)) == 18
    assert rules.age_on is age_on
    # on 28 February 2023 she turned 15: her own consent is required from that day
    before = rules.required_givers(birth_date=number.birth_date, custodian_ids=[7],
                                   own_consent_age=15, on=date(2023, 2, 27))
    on_the_day = rules.required_givers(birth_date=number.birth_date, custodian_ids=[7],
                                       own_consent_age=15, on=date(2023, 2, 28))
    assert before == [rules.Giver.guardian(7)]
    assert on_the_day == [rules.Giver.youth(), rules.Giver.guardian(7)]
    # and from 28 February 2026 only hers
    assert rules.required_givers(birth_date=number.birth_date, custodian_ids=[7],
                                 own_consent_age=15, on=date(2026, 2, 28)) == [
        rules.Giver.youth()]


def test_a_plus_number_of_someone_born_on_29_february_turns_100_on_28_february():
    # 29 February 2000 + 100 years: 2100 has no 29 February
    assert parse("000229+2381", today=date(2100, 2, 28)).birth_date == date(2000, 2, 29)
    with pytest.raises(InvalidIdentityNumber, match="födelsedatum"):
        parse("000229+2381", today=date(2100, 2, 27))


@st.composite
def valid_numbers(draw):
    """A valid number as (birth date, the ten digits, coordination). Births from 1830:
    the two-digit forms cannot tell a person of 200 from one of 100."""
    birth = draw(st.dates(min_value=date(1830, 1, 1), max_value=TODAY))
    coordination = draw(st.booleans())
    day = birth.day + (60 if coordination else 0)
    nine = f"{birth:%y%m}{day:02d}{draw(st.integers(0, 999)):03d}"
    return birth, nine + check_digit(nine), coordination


def accepted_forms(birth, ten):
    century = f"{birth.year // 100:02d}"
    forms = [century + ten, f"{century}{ten[:6]}-{ten[6:]}"]
    if age_on(birth, TODAY) >= 100:
        forms.append(f"{ten[:6]}+{ten[6:]}")
    else:
        forms += [ten, f"{ten[:6]}-{ten[6:]}"]
    return forms


@given(valid_numbers())
def test_every_accepted_form_of_a_valid_number_normalises_to_the_same_twelve_digits(number):
    birth, ten, coordination = number
    expected = f"{birth.year // 100:02d}{ten}"
    for form in accepted_forms(birth, ten):
        parsed = parse(form, today=TODAY)
        assert parsed.normalised == expected, form
        assert parsed.birth_date == birth
        assert parsed.coordination is coordination


@given(valid_numbers(), st.integers(0, 11), st.integers(1, 9))
def test_changing_one_digit_is_refused_or_gives_another_number(number, position, shift):
    birth, ten, _coordination = number
    twelve = f"{birth.year // 100:02d}{ten}"
    digit = str((int(twelve[position]) + shift) % 10)
    changed = twelve[:position] + digit + twelve[position + 1:]
    try:
        result = parse(changed, today=TODAY)
    except InvalidIdentityNumber:
        return
    assert position < 2, "the check digit covers the last ten digits"
    assert result.normalised == changed != twelve


def test_repr_does_not_reveal_the_number():
    number = parse("121212-1212", today=TODAY)
    assert "1212" not in repr(number)
    assert "1212" not in str(number)


def test_luhn():
    assert luhn_ok("8112189876")
    assert not luhn_ok("8112189875")
