"""Refused anonymous requests: counted per address and minute, throttled, and recorded
without filling the log.

A request without a login to a page, or to the API without a valid token, is recorded
as a denied access event, and the log can never be thinned out. Recording every one
would let anyone write permanent rows at will, so per client address and minute the
first refusal is an event at once, the rest are counted (``RefusalTally``) and
recorded as one event with their number when the minute is over: by the next refusal
from that address after it, or by the minutely Celery task ``sspf.record_refusals``.
API requests past ``SSPF_REFUSALS_PER_MINUTE`` (default 30) from one address (an IPv6
address: its /64 network) in a minute are answered 429 (pages still lead to the login
page: a municipality's staff share a few addresses, and the login page itself is not
counted).

Written here rather than with DRF's throttles: those count in the cache, which is per
process unless a shared cache is set up, and they run after authentication, so they
never see a refused token; this counts in the database every process shares, and the
count is also what the consolidated events need.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

import audit
from audit.context import current
from audit.models import Action, Outcome
from sspf.models import RefusalTally

TOO_MANY = gettext_lazy("För många anrop utan giltig inloggning. Vänta en minut och försök igen.")


def _window(now):
    return now.replace(second=0, microsecond=0)


def _counted_as(ip: str) -> str:
    """The address refusals are counted under: an IPv4 address itself, an IPv6 address
    by its /64 network (one subscriber's usual share, RFC 6177), written as the
    network's first address, so that changing the last 64 bits does not start afresh."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)


def refused(*, action: str, purpose: str) -> bool:
    """Count a refused anonymous request from the current client address; True when the
    address is over its limit for this minute (the caller may answer 429)."""
    ip = _counted_as(current().ip or "")
    window = _window(timezone.now())
    with transaction.atomic():
        try:
            with transaction.atomic():
                RefusalTally.objects.create(ip=ip, window=window)
            first = True
        except IntegrityError:  # not the first this minute
            first = False
        if first:
            _record_closed(RefusalTally.objects.filter(ip=ip, window__lt=window))
            audit.record(action=action, actor=AnonymousUser(), outcome=Outcome.DENIED,
                         purpose=purpose)
            return False
        RefusalTally.objects.filter(ip=ip, window=window).update(count=F("count") + 1)
        count = RefusalTally.objects.filter(ip=ip, window=window).values_list(
            "count", flat=True).first() or 0
    return count > settings.SSPF_REFUSALS_PER_MINUTE


def _record_closed(tallies) -> int:
    """One event for each closed minute with more than its first refusal; the rows go."""
    recorded = 0
    for tally in tallies.select_for_update().order_by("window", "ip"):
        if tally.count > 1:
            minute = timezone.localtime(tally.window).strftime("%Y-%m-%d %H:%M")
            network = " (its /64 network)" if ":" in tally.ip else ""
            audit.record(action=Action.DENIED, actor=AnonymousUser(), outcome=Outcome.DENIED,
                         ip=tally.ip or None,
                         purpose=f"{tally.count - 1} more refused request(s) without a login "
                                 f"from this address{network} in the minute from {minute}")
            recorded += 1
        tally.delete()
    return recorded


def record_closed_minutes(now=None) -> int:
    """Record every minute that is over (the minutely task); returns the events written."""
    window = _window(now or timezone.now())
    with transaction.atomic():
        return _record_closed(RefusalTally.objects.filter(window__lt=window))
