"""Issuing, checking and revoking personal access tokens, and the DRF authentication
that reads ``Authorization: Token <key>``."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

import audit
from audit.models import Action
from sspf import refusals
from sspf.models import ApiToken, User

DEFAULT_LIFETIME = timedelta(days=30)
KEY_PREFIX = "sspf_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@transaction.atomic
def issue_token(*, user: User, name: str = "", lifetime: timedelta = DEFAULT_LIFETIME
                ) -> tuple[ApiToken, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=key[:12], key_hash=_hash(key),
        expires_at=timezone.now() + lifetime,
    )
    audit.record(action="token_issued", actor=user, object_type="sspf.ApiToken",
                 object_id=token.pk)
    return token, key


@transaction.atomic
def revoke_token(*, user: User, token_id: int) -> bool:
    token = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).first()
    if token is None:
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(action="token_revoked", actor=user, object_type="sspf.ApiToken",
                 object_id=token.pk)
    return True


def active_tokens(user: User):
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True,
                                   expires_at__gt=timezone.now())


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Ogiltig Authorization-rubrik."))
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Ogiltig API-nyckel.")) from None
        now = timezone.now()
        token = (
            ApiToken.objects.filter(key_hash=_hash(key), revoked_at__isnull=True,
                                    expires_at__gt=now)
            .select_related("user__organisation")
            .first()
        )
        if token is None or not token.user.is_active:
            # Recorded without an actor: not the token's owner, nor a browser session
            # that happens to come with the request.
            if refusals.refused(action=Action.LOGIN_FAILED, purpose="API token refused"):
                raise exceptions.Throttled(detail=refusals.TOO_MANY)
            raise exceptions.AuthenticationFailed(_("Ogiltig eller utgången API-nyckel."))
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class TokenScheme(OpenApiAuthenticationExtension):
    """Describes the token header in the OpenAPI schema."""

    target_class = "sspf.tokens.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Token <key>"}
