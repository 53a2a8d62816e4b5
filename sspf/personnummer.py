"""Swedish identity numbers: personnummer and samordningsnummer.

Accepted forms: ``YYMMDD-NNNN``, ``YYMMDD+NNNN`` (the person has turned 100),
``YYMMDDNNNN``, ``YYYYMMDDNNNN`` and ``YYYYMMDD-NNNN``. A number is valid when its date
is a real calendar date not in the future (for a samordningsnummer the day is the
birth day plus 60) and its last digit is the Luhn check digit over the ten digits
``YYMMDDNNN``. Sources: Skatteverket, "Personnummer" (SKV 704) and
"Samordningsnummer" (SKV 707); folkbokföringslagen (1991:481) 18 §.

Written here rather than taken from python-stdnum or ``personnummer`` because both
read the century from today's clock and the first rejects samordningsnummer; we need
a reference date for tests and both kinds of number.

Error messages never repeat the number itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

# ASCII digits only: other scripts' digits would give the same person another index.
_PATTERN = re.compile(r"^(?P<century>\d{2})?(?P<yymmdd>\d{6})(?P<sep>[-+]?)(?P<serial>\d{4})$",
                      re.ASCII)
COORDINATION_OFFSET = 60


class InvalidIdentityNumber(ValueError):
    pass


@dataclass(frozen=True)
class IdentityNumber:
    normalised: str  # twelve digits, YYYYMMDDNNNN (day + 60 kept for a samordningsnummer)
    birth_date: date
    coordination: bool

    @property
    def gender(self) -> str:
        """'F' or 'M' from the second-to-last digit (odd: male), as registered."""
        return "M" if int(self.normalised[10]) % 2 else "F"

    @property
    def formatted(self) -> str:
        return f"{self.normalised[:8]}-{self.normalised[8:]}"

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def __str__(self) -> str:  # never rendered by accident with the number in it
        return "IdentityNumber(…)"

    __repr__ = __str__


def _luhn_sum(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total


def luhn_ok(digits: str) -> bool:
    return _luhn_sum(digits) % 10 == 0


def check_digit(nine_digits: str) -> str:
    """The Luhn check digit that completes ``YYMMDDNNN``."""
    return str(-_luhn_sum(nine_digits + "0") % 10)


def parse(value: str, *, today: date | None = None) -> IdentityNumber:
    """Parse and validate; raise InvalidIdentityNumber with a message for the user."""
    today = today or timezone.localdate()
    text = (value or "").strip().replace(" ", "")
    match = _PATTERN.match(text)
    if not match:
        raise InvalidIdentityNumber(
            _("Ange personnummer eller samordningsnummer som ÅÅMMDD-NNNN eller ÅÅÅÅMMDDNNNN.")
        )
    yymmdd, serial, sep = match["yymmdd"], match["serial"], match["sep"]
    if match["century"] and sep == "+":
        raise InvalidIdentityNumber(
            _("Plustecken används bara med tvåsiffrigt årtal (ÅÅMMDD+NNNN).")
        )
    yy, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    coordination = day > COORDINATION_OFFSET
    real_day = day - COORDINATION_OFFSET if coordination else day

    latest = today  # the latest possible birth date
    if match["century"]:
        years = [int(match["century"] + yymmdd[:2])]
    else:
        # The latest year ending in yy that is not after this year; a date later this
        # year belongs to the century before. '+' says the person has turned 100.
        year = today.year - ((today.year - yy) % 100)
        years = [year, year - 100]
        if sep == "+":
            years = [year - 100, year - 200]
            latest = _years_before(today, 100)

    birth = None
    for year in years:
        try:
            candidate = date(year, month, real_day)
        except ValueError:
            break
        if candidate <= latest:
            birth = candidate
            break
    if birth is None:
        raise InvalidIdentityNumber(_("Numret innehåller inget giltigt födelsedatum."))
    if not luhn_ok(yymmdd + serial):
        raise InvalidIdentityNumber(_("Kontrollsiffran stämmer inte. Kontrollera numret."))

    normalised = f"{birth.year:04d}{month:02d}{day:02d}{serial}"
    return IdentityNumber(normalised=normalised, birth_date=birth, coordination=coordination)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def normalise(value: str, *, today: date | None = None) -> str:
    return parse(value, today=today).normalised
