"""Swedish identity numbers: personnummer and samordningsnummer.

Accepted forms: ``YYMMDD-NNNN``, ``YYMMDD+NNNN`` (the person has turned 100),
``YYMMDDNNNN``, ``YYYYMMDDNNNN`` and ``YYYYMMDD-NNNN``. A number is valid when its date
is a real calendar date not in the future (for a samordningsnummer the day is the
birth day plus 60) and its last digit is the Luhn check digit over the ten digits
``YYMMDDNNN``. Sources: Skatteverket, "Personnummer" (SKV 704) and
"Samordningsnummer" (SKV 707); folkbokföringslagen (1991:481) 18 §. Personnummer were
introduced in 1947 for everyone then registered, so no holder was born before 1800:
the birth year lies in the 1800s, 1900s or 2000s, and a twelve-digit form with any
other century is refused.

Ages follow Swedish time reckoning (see ``age_on``).

Written here rather than taken from python-stdnum or ``personnummer`` because both
read the century from today's clock and the first rejects samordningsnummer; we need
a reference date for tests and both kinds of number.

Error messages never repeat the number itself.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

# ASCII digits only: other scripts' digits would give the same person another index.
_PATTERN = re.compile(r"^(?P<century>\d{2})?(?P<yymmdd>\d{6})(?P<sep>[-+]?)(?P<serial>\d{4})$",
                      re.ASCII)
COORDINATION_OFFSET = 60
CENTURIES = (18, 19, 20)  # of the birth year; see the module docstring


class InvalidIdentityNumber(ValueError):
    pass


def age_on(birth_date: date, day: date) -> int:
    """Completed years on ``day`` of a person born on ``birth_date``.

    The age is reached on the birthday. For someone born on 29 February that day is
    28 February in a year without 29 February: lag (1930:173) om beräkning av
    lagstadgad tid, 1 §, ends a period counted in years on the day of the last month
    with the same number, and where that month has no such day, on its last day.
    Pure: no clock and no database, so consent.rules can use it too.
    """
    years = day.year - birth_date.year
    last_day = calendar.monthrange(day.year, birth_date.month)[1]
    birthday = date(day.year, birth_date.month, min(birth_date.day, last_day))
    if day < birthday:
        years -= 1
    return years


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
        return age_on(self.birth_date, day)

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


# Ten or twelve digits, perhaps with the separator, not part of a longer run of digits.
_EMBEDDED = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+]?\d{4}(?!\d)", re.ASCII)


def could_be_identity_number(text: str) -> bool:
    """Whether ``text`` holds something shaped like an identity number whose check digit
    is right (ten or twelve digits, ``-`` or ``+`` allowed). No date check: a typed
    number with a wrong date is still someone's number mistyped, and not worth keeping."""
    for match in _EMBEDDED.finditer(text):
        digits = re.sub(r"[-+]", "", match.group())
        if luhn_ok(digits[-10:]):
            return True
    return False


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

    oldest = 0  # the person's age on the birth date tried must be at least this
    if match["century"]:
        years = [int(match["century"] + yymmdd[:2])]
    else:
        # The latest year ending in yy that is not after this year; a date later this
        # year belongs to the century before. '+' says the person has turned 100.
        year = today.year - ((today.year - yy) % 100)
        years = [year, year - 100]
        if sep == "+":
            years = [year - 100, year - 200]
            oldest = 100

    birth = None
    for year in years:
        try:
            candidate = date(year, month, real_day)
        except ValueError:
            break
        if candidate <= today and age_on(candidate, today) >= oldest:
            birth = candidate
            break
    if birth is None or birth.year // 100 not in CENTURIES:
        raise InvalidIdentityNumber(_("Numret innehåller inget giltigt födelsedatum."))
    if not luhn_ok(yymmdd + serial):
        raise InvalidIdentityNumber(_("Kontrollsiffran stämmer inte. Kontrollera numret."))

    normalised = f"{birth.year:04d}{month:02d}{day:02d}{serial}"
    return IdentityNumber(normalised=normalised, birth_date=birth, coordination=coordination)


def normalise(value: str, *, today: date | None = None) -> str:
    return parse(value, today=today).normalised
