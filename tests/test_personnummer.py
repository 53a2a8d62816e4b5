from datetime import date

import pytest

from sspf.personnummer import InvalidIdentityNumber, luhn_ok, parse

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


def test_repr_does_not_reveal_the_number():
    number = parse("121212-1212", today=TODAY)
    assert "1212" not in repr(number)
    assert "1212" not in str(number)


def test_luhn():
    assert luhn_ok("8112189876")
    assert not luhn_ok("8112189875")
