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

A system check (``stored_values_open``) makes ``check``, ``migrate`` and ``runserver``
stop when the key ring cannot open what is stored: a key id missing from the ring, or
a key that is not the one the values were sealed with (a lost development key file, a
key dropped before ``rotate_keys`` ran, a mistyped key).

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
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldError
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.dispatch import receiver

from sspf.keys import KEY_ID_PATTERN

NONCE_BYTES = 12
SEPARATOR = "$"
MASK = "[krypterat]"


class DecryptionError(Exception):
    """A stored value does not open: wrong column, unknown key or tampered bytes."""


class KeyRing:
    """The field keys by id; seals with the newest, opens with the one a value names."""

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

    def holds(self, key_id: str) -> bool:
        return key_id in self._ciphers


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


# Values read per encrypted column from each end of its table (by primary key): the
# oldest rows show a key dropped before rotation, the newest a lost or mistyped key.
# Two index-ordered, limited queries per column keep the check cheap on any size.
CHECK_SAMPLE = 20
_ID_PREFIX = 34  # a key id (at most 32 characters) and the separator fit


@checks.register("sspf")
def stored_values_open(app_configs=None, databases=None, **kwargs):
    """Every key id found in a sample of stored values is in the ring, and for each
    column one value per key id opens. A database that cannot be reached, or a table
    not migrated yet, is left to the commands that need them."""
    ring = key_ring()
    models_to_check = (
        [m for config in app_configs for m in config.get_models()] if app_configs
        else apps.get_models()
    )
    missing: dict[str, str] = {}  # key id -> first column seen under it
    wrong: dict[str, str] = {}
    unnamed: list[str] = []
    for alias in databases or [DEFAULT_DB_ALIAS]:
        connection = connections[alias]
        try:
            tables = set(connection.introspection.table_names())
        except DatabaseError:
            continue
        for model in models_to_check:
            if model._meta.proxy or model._meta.db_table not in tables:
                continue
            for field in encrypted_fields(model):
                column = f"{model._meta.db_table}.{field.column}"
                try:
                    found = _sampled_key_ids(connection, model, field)
                except DatabaseError:
                    continue
                for key_id, pk in found.items():
                    if key_id is None:
                        unnamed.append(column)
                    elif not ring.holds(key_id):
                        missing.setdefault(key_id, column)
                    elif key_id not in wrong and not _opens(connection, model, field, pk):
                        wrong[key_id] = column
    errors = [
        checks.Error(
            f"Stored values ({column}) are sealed under key id {key_id!r}, which "
            "SSPF_FIELD_KEYS does not hold.",
            hint="Put that key back in the ring; remove a key only after rotate_keys.",
            id="sspf.E001",
        )
        for key_id, column in sorted(missing.items())
    ]
    errors += [
        checks.Error(
            f"The key with id {key_id!r} in SSPF_FIELD_KEYS does not open the values "
            f"sealed under that id ({column}): it is not the key they were sealed with.",
            hint="Restore the key these values were sealed with.",
            id="sspf.E002",
        )
        for key_id, column in sorted(wrong.items())
    ]
    if unnamed:
        errors.append(checks.Error(
            f"Stored values ({unnamed[0]}) carry no key id: they were not sealed by "
            "this application.",
            id="sspf.E003",
        ))
    return errors


def _sampled_key_ids(connection, model, field) -> dict[str | None, object]:
    """Key ids in the sampled values of one column, each with the pk of one value."""
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(field.column)
    pk = quote(model._meta.pk.column)
    found: dict[str | None, object] = {}
    for order in ("ASC", "DESC"):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, SUBSTR({column}, 1, {_ID_PREFIX}) FROM {table} "  # noqa: S608
                f"WHERE {column} IS NOT NULL ORDER BY {pk} {order} LIMIT {CHECK_SAMPLE}"
            )
            for row_pk, head in cursor.fetchall():
                found.setdefault(_key_id(head), row_pk)
    return found


def _key_id(head) -> str | None:
    if not isinstance(head, str):
        head = bytes(head).decode("ascii", "replace")
    key_id, sep, _rest = head.partition(SEPARATOR)
    return key_id if sep and KEY_ID_PATTERN.match(key_id) else None


def _opens(connection, model, field, pk) -> bool:
    quote = connection.ops.quote_name
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(field.column)} FROM {quote(model._meta.db_table)} "  # noqa: S608
            f"WHERE {quote(model._meta.pk.column)} = %s",
            [pk],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None:  # changed since it was sampled
        return True
    try:
        field.from_db_value(row[0], None, connection)
    except DecryptionError:
        return False
    return True
