"""Field encryption at rest and the blind index.

Encrypted fields store ``<key id>$<base64(nonce || AES-256-GCM ciphertext)>``. The key
ring comes from ``SSPF_FIELD_KEYS`` (newest first): new values are sealed with the
newest key, old values open with the key their id names, and ``manage.py rotate_keys``
re-seals everything under the newest key. The table and column are bound in as
associated data, so a value copied into another column, or another table, does not
open. Encrypted columns cannot be searched: every lookup except ``isnull`` raises, so a
query can never compare ciphertext by mistake; exact search goes through a blind index
(HMAC-SHA256 under its own key, ``SSPF_INDEX_KEY``).

Written here rather than taken from a field-encryption package because none of the
maintained ones binds table and column as associated data together with a key ring
and a refusal of lookups; the cryptography itself is ``cryptography``'s AESGCM.

Nothing here may log, print or put into an exception message a plaintext or a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import FieldError
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

NONCE_BYTES = 12
SEPARATOR = "$"
MASK = "[krypterat]"


class DecryptionError(Exception):
    """A stored value does not open: wrong column, unknown key or tampered bytes."""


class KeyRing:
    def __init__(self, keys: list[tuple[str, bytes]]):
        if not keys:
            raise ValueError("the key ring is empty")
        self.current_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}

    def _seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._ciphers[self.current_id].encrypt(
            nonce, plaintext, context.encode("utf-8"))

    def _open(self, key_id: str, raw: bytes, context: str) -> bytes:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"{context}: value sealed under an unknown key id")
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
        except (InvalidTag, ValueError):
            raise DecryptionError(f"{context}: value does not open (tampered or moved)") from None

    def encrypt(self, plaintext: str, *, context: str) -> str:
        sealed = self._seal(plaintext.encode("utf-8"), context)
        return self.current_id + SEPARATOR + base64.b64encode(sealed).decode("ascii")

    def decrypt(self, token: str, *, context: str) -> str:
        key_id, sep, payload = token.partition(SEPARATOR)
        if not sep:
            raise DecryptionError(f"{context}: value sealed under an unknown key id")
        try:
            raw = base64.b64decode(payload, validate=True)
        except ValueError:
            raise DecryptionError(f"{context}: value does not open (tampered or moved)") from None
        return self._open(key_id, raw, context).decode("utf-8")

    def encrypt_bytes(self, plaintext: bytes, *, context: str) -> bytes:
        return self.current_id.encode("ascii") + SEPARATOR.encode() + self._seal(plaintext, context)

    def decrypt_bytes(self, sealed: bytes, *, context: str) -> bytes:
        key_id, sep, raw = bytes(sealed).partition(SEPARATOR.encode())
        if not sep:
            raise DecryptionError(f"{context}: value sealed under an unknown key id")
        return self._open(key_id.decode("ascii", "replace"), raw, context)



@lru_cache(maxsize=1)
def key_ring() -> KeyRing:
    return KeyRing(settings.SSPF_FIELD_KEYS)


@receiver(setting_changed)
def _forget_keys(*, setting, **kwargs):
    if setting in ("SSPF_FIELD_KEYS", "SSPF_INDEX_KEY"):
        key_ring.cache_clear()


def blind_index(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of a normalised value, hex. ``purpose`` separates index domains so
    the same value indexed for two purposes gives unrelated digests."""
    message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return hmac.new(settings.SSPF_INDEX_KEY, message, hashlib.sha256).hexdigest()


def mask_for_change_history(value) -> str:
    """Stand-in for encrypted fields in django-auditlog's change history: the history
    says that a field changed, never what it held (neither plaintext nor ciphertext)."""
    return MASK


class EncryptedFieldMixin:
    """Seals on the way into the database and opens on the way out."""

    encrypted = True

    def get_internal_type(self):
        return "TextField"

    def context(self) -> str:
        return f"{self.model._meta.db_table}.{self.column}"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return key_ring().decrypt(value, context=self.context())

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        return key_ring().encrypt(str(value), context=self.context())

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted and cannot be searched with "
            f"'{lookup_name}'; use its blind index"
        )

    def get_transform(self, lookup_name):
        raise FieldError(f"{self.model.__name__}.{self.name} is encrypted and has no transforms")


class EncryptedCharField(EncryptedFieldMixin, models.CharField):
    """A short encrypted text; ``max_length`` limits the plaintext."""

    def db_type(self, connection):
        return connection.data_types["TextField"]

    def cast_db_type(self, connection):
        return self.db_type(connection)


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    """A long encrypted text; ``max_length``, when given, limits the plaintext."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.max_length is not None:
            from django.core.validators import MaxLengthValidator

            self.validators.append(MaxLengthValidator(self.max_length))


class EncryptedBinaryField(EncryptedFieldMixin, models.BinaryField):
    """Encrypted bytes (a scanned document, say): ``<key id>$`` then nonce and
    ciphertext, in a binary column."""

    def get_internal_type(self):
        return "BinaryField"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return key_ring().decrypt_bytes(bytes(value), context=self.context())

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        sealed = key_ring().encrypt_bytes(bytes(value), context=self.context())
        return connection.Database.Binary(sealed)


def encrypted_fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if getattr(f, "encrypted", False)]
