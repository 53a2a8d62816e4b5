"""Field encryption at rest and the blind index.

A sealed value is AES-256-GCM under a key of the ring, with a fresh nonce, and with
where it belongs bound in as associated data: the table, the column and the row's
primary key. A value copied into another row, another column or another table does not
open there (``DecryptionError``); it never opens as the other row's value. Encrypted
text columns store ``<key id>#<base64(nonce || ciphertext)>``, binary ones ``<key id>#``
then nonce and ciphertext. Values sealed before rows were bound (table and column only)
carry ``$`` instead of ``#``; the model never opens them. The migrations that
introduced row binding re-sealed them, and ``manage.py rotate_keys`` re-seals any it
still finds, so a value in the old form after that migration was written by someone
else (from an old backup, say) and is worth looking into.

Why the primary key and not a random per-row id: the primary key is what every other
row refers to (an entry's case, a guardian's young person), it is always loaded with
the row, and it costs no column. Its price is that it must be known before the insert:
``EncryptedModel.save()`` and its manager's ``bulk_create()`` take the next values of
the table's own sequence first (PostgreSQL's identity sequence, SQLite's
``sqlite_sequence``), one round trip per insert (or per batch), and then insert with
them. Opening happens in ``EncryptedModel.from_db``, with the primary key of the row
just read. Writes that would put a value in the database without its row are refused
with ``FieldError``: ``QuerySet.update()`` and ``bulk_update()`` of an encrypted field
(change the rows through ``save()``), ``bulk_create()`` of rows without a primary key
outside the model's own manager, and ``values()``/``values_list()`` reads, which do
not carry the row and so cannot open the value. A system check
(``encrypted_models_bound``) names any model with encrypted fields that is not an
``EncryptedModel``.

The key ring comes from ``SSPF_FIELD_KEYS`` (newest first): new values are sealed with
the newest key, old values open with the key their id names, and ``rotate_keys``
re-seals everything under the newest key. Encrypted columns cannot be searched: every
lookup except ``isnull`` raises, so a query can never compare ciphertext by mistake;
exact search goes through a blind index (HMAC-SHA256 under its own key,
``SSPF_INDEX_KEY``).

Written here rather than taken from a field-encryption package because none of the
maintained ones binds table, column and row as associated data together with a key
ring and a refusal of lookups; the cryptography itself is ``cryptography``'s AESGCM.

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
import re
from contextlib import nullcontext
from functools import cache, lru_cache
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, FieldError
from django.core.signals import setting_changed
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    NotSupportedError,
    connections,
    models,
    router,
    transaction,
)
from django.db.models.fields import AutoFieldMixin
from django.dispatch import receiver

from sspf.keys import KEY_ID_PATTERN

NONCE_BYTES = 12
ROW_BOUND = "#"
COLUMN_BOUND = "$"  # the form of before row binding: table and column only
MASK = "[krypterat]"

# The start of a stored value: the key id and the separator that names its form.
_KEY_ID = KEY_ID_PATTERN.pattern.strip("^$")
_HEAD = re.compile(f"^({_KEY_ID})([{ROW_BOUND}{COLUMN_BOUND}])")
_HEAD_BYTES = re.compile(_HEAD.pattern.encode("ascii"))


class DecryptionError(Exception):
    """A stored value does not open: another row, column or table, an unknown key, the
    form of before row binding, or tampered bytes."""


class Binding(NamedTuple):
    """Where a sealed value belongs; sealed into it as associated data. ``row`` is the
    primary key of its row, ``None`` only for the form of before row binding."""

    table: str
    column: str
    row: object = None

    @property
    def separator(self) -> str:
        return COLUMN_BOUND if self.row is None else ROW_BOUND

    @property
    def associated_data(self) -> bytes:
        place = f"{self.table}.{self.column}"
        if self.row is not None:
            place += f"{ROW_BOUND}{self.row}"
        return place.encode("utf-8")

    def __str__(self) -> str:
        place = f"{self.table}.{self.column}"
        return place if self.row is None else f"{place}, row {self.row}"


def _split(value) -> tuple[tuple[str, str] | None, str | bytes]:
    """A stored value's key id and form separator (None when it does not start with
    them), and the rest."""
    if isinstance(value, str):
        match = _HEAD.match(value)
        return (match.groups(), value[match.end():]) if match else (None, value)
    value = bytes(value)
    match = _HEAD_BYTES.match(value)
    if match is None:
        return None, value
    return tuple(part.decode("ascii") for part in match.groups()), value[match.end():]


def stored_head(value) -> tuple[str, str] | None:
    """Key id and form separator at the start of a stored value (text or bytes), or
    None when it does not start with them."""
    return _split(value)[0]


class KeyRing:
    """The field keys by id; seals with the newest, opens with the one a value names."""

    def __init__(self, keys: list[tuple[str, bytes]]):
        if not keys:
            raise ValueError("the key ring is empty")
        self.current_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}

    def _seal(self, plaintext: bytes, binding: Binding) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._ciphers[self.current_id].encrypt(
            nonce, plaintext, binding.associated_data)

    def _cipher_for(self, head, binding: Binding) -> AESGCM:
        if head is None:
            raise DecryptionError(f"{binding}: value sealed under an unknown key id")
        key_id, separator = head
        if separator != binding.separator:
            raise DecryptionError(
                f"{binding}: value not bound to its row (sealed before row binding; "
                "migrate or rotate_keys re-seals it)" if separator == COLUMN_BOUND
                else f"{binding}: value bound to a row where none was expected")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"{binding}: value sealed under an unknown key id")
        return cipher

    @staticmethod
    def _open(cipher: AESGCM, raw: bytes, binding: Binding) -> bytes:
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], binding.associated_data)
        except (InvalidTag, ValueError):
            raise DecryptionError(
                f"{binding}: value does not open (tampered, or moved from another row, "
                "column or table)") from None

    def encrypt(self, plaintext: str, *, binding: Binding) -> str:
        sealed = self._seal(plaintext.encode("utf-8"), binding)
        return self.current_id + binding.separator + base64.b64encode(sealed).decode("ascii")

    def decrypt(self, token: str, *, binding: Binding) -> str:
        head, payload = _split(token)
        cipher = self._cipher_for(head, binding)
        try:
            raw = base64.b64decode(payload, validate=True)
        except ValueError:
            raise DecryptionError(f"{binding}: value does not open (tampered)") from None
        return self._open(cipher, raw, binding).decode("utf-8")

    def encrypt_bytes(self, plaintext: bytes, *, binding: Binding) -> bytes:
        head = (self.current_id + binding.separator).encode("ascii")
        return head + self._seal(plaintext, binding)

    def decrypt_bytes(self, sealed: bytes, *, binding: Binding) -> bytes:
        head, raw = _split(sealed)
        return self._open(self._cipher_for(head, binding), raw, binding)

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


class Sealed:
    """A stored value as read from the database, not opened yet: only its row's primary
    key opens it, which ``EncryptedModel.from_db`` supplies. Shown, it is the mask."""

    __slots__ = ("stored",)

    def __init__(self, stored):
        self.stored = stored

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return "Sealed(…)"


class _ForRow:
    """A plaintext on its way into one row: what ``pre_save`` hands to the write."""

    __slots__ = ("row", "value")

    def __init__(self, value, row):
        self.value, self.row = value, row


class EncryptedFieldMixin:
    """Seals on the way into the database, bound to the row being saved; the value read
    stays sealed until its model opens it with the row's primary key."""

    encrypted = True
    _stand_in = MASK

    def get_internal_type(self):
        return "TextField"

    def _label(self) -> str:
        return f"{self.model.__name__}.{self.name}"

    def binding(self, row) -> Binding:
        return Binding(self.model._meta.db_table, self.column, row)

    def seal(self, value, *, row) -> str:
        return key_ring().encrypt(str(value), binding=self.binding(row))

    def open(self, stored, *, row) -> str:
        """The plaintext of a value stored in this column of row ``row``."""
        return key_ring().decrypt(stored, binding=self.binding(row))

    def open_stored(self, stored, *, row):
        """Open a value in whichever form it is stored: bound to row ``row`` or, sealed
        before row binding, to its column alone. For re-sealing and the key check: the
        model opens the row-bound form only."""
        head = stored_head(stored)
        legacy = head is not None and head[1] == COLUMN_BOUND
        return self.open(stored, row=None if legacy else row)

    def _to_column(self, stored, connection):
        return stored

    def from_db_value(self, value, expression, connection):
        return None if value is None else Sealed(value)

    def pre_save(self, model_instance, add):
        value = super().pre_save(model_instance, add)
        if value is None:
            return None
        if isinstance(value, Sealed):
            raise FieldError(f"{self._label()} holds a value that was never opened; read the "
                             "row through its EncryptedModel before writing it back")
        if model_instance.pk is None:
            raise FieldError(
                f"{self._label()} is encrypted and sealed to its row, whose primary key is "
                "not known yet: create rows through EncryptedModel.save() or the bulk_create() "
                "of the model's own manager")
        return _ForRow(value, model_instance.pk)

    def get_db_prep_save(self, value, connection):
        if value is None:
            return None
        if isinstance(value, _ForRow):
            sealed = self.seal(self.get_prep_value(value.value), row=value.row)
            return self._to_column(sealed, connection)
        raise FieldError(
            f"{self._label()} is encrypted and written only by saving its row, which binds "
            "the value to that row; QuerySet.update() and bulk_update() cannot")

    def get_db_prep_value(self, value, connection, prepared=False):
        # Outside a write (a constraint validated in Python, say) an encrypted value can
        # only be compared with NULL, the one lookup allowed: a constant stand-in gives
        # the same answer and puts neither plaintext nor ciphertext into the query.
        if value is None:
            return None
        return self._to_column(self._stand_in, connection)

    def select_format(self, compiler, sql, params):
        if compiler.query.values_select:
            raise FieldError(
                f"{self._label()} is encrypted and opens only with its row: read it through "
                "model instances, not values() or values_list()")
        return super().select_format(compiler, sql, params)

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self._label()} is encrypted and cannot be searched with "
            f"'{lookup_name}'; use its blind index"
        )

    def get_transform(self, lookup_name):
        raise FieldError(f"{self._label()} is encrypted and has no transforms")


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
    """Encrypted bytes (a scanned document, say): ``<key id>#`` then nonce and
    ciphertext, in a binary column."""

    _stand_in = MASK.encode("ascii")

    def get_internal_type(self):
        return "BinaryField"

    def seal(self, value, *, row) -> bytes:
        return key_ring().encrypt_bytes(bytes(value), binding=self.binding(row))

    def open(self, stored, *, row) -> bytes:
        return key_ring().decrypt_bytes(bytes(stored), binding=self.binding(row))

    def _to_column(self, stored, connection):
        return connection.Database.Binary(stored)


def encrypted_fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if getattr(f, "encrypted", False)]


@cache
def _encrypted_attnames(model) -> tuple[tuple[str, models.Field], ...]:
    return tuple((f.attname, f) for f in encrypted_fields(model))


def _is_encrypted(model, name: str) -> bool:
    try:
        return getattr(model._meta.get_field(name), "encrypted", False)
    except FieldDoesNotExist:
        return False


# --- rows whose primary key is known before the insert ----------------------------------

def allocate_pks(model, count: int, *, using: str = DEFAULT_DB_ALIAS) -> list[int]:
    """``count`` primary keys for new rows of ``model``, taken from the table's own
    sequence, so rows the database numbers itself never get them too."""
    if count == 0:
        return []
    connection = connections[using]
    table = model._meta.db_table
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                           "FROM generate_series(1, %s)",
                           [quote(table), model._meta.pk.column, count])
            return [pk for (pk,) in cursor.fetchall()]
    if connection.vendor == "sqlite":
        # Django creates SQLite tables with AUTOINCREMENT, whose counter in
        # sqlite_sequence may be written (SQLite's documentation, "Autoincrement");
        # SQLite numbers its own inserts above it. The largest key counts too, should the
        # counter have been reset. The counter's row exists once the table has had a
        # row: the first allocation starts it, and should another connection start it
        # meanwhile, the update runs again. Each statement is atomic on its own.
        largest = (f"(SELECT COALESCE(MAX({quote(model._meta.pk.column)}), 0) "  # noqa: S608
                   f"FROM {quote(table)})")
        advance = (f"UPDATE sqlite_sequence SET seq = MAX(seq, {largest}) + %s "  # noqa: S608
                   "WHERE name = %s RETURNING seq", [count, table])
        start = (f"INSERT INTO sqlite_sequence (name, seq) SELECT %s, {largest} + %s "  # noqa: S608
                 "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %s) "
                 "RETURNING seq", [table, count, table])
        with connection.cursor() as cursor:
            for sql, params in (advance, start, advance):
                cursor.execute(sql, params)
                row = cursor.fetchone()
                if row is not None:
                    break
        top = row[0]
        return list(range(top - count + 1, top + 1))
    raise NotSupportedError(f"no primary key allocation on {connection.vendor}")


class EncryptedQuerySet(models.QuerySet):
    """Bulk writes that keep every sealed value bound to its row."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        if kwargs.get("update_conflicts") and any(
                _is_encrypted(self.model, name) for name in kwargs.get("update_fields") or ()):
            raise FieldError(f"{self.model.__name__}: an upsert would put values sealed for "
                             "the new rows into the existing ones")
        unnumbered = [obj for obj in objs if obj.pk is None]
        using = self._db or router.db_for_write(self.model)
        for obj, pk in zip(unnumbered, allocate_pks(self.model, len(unnumbered), using=using),
                           strict=True):
            obj.pk = pk
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs):
        for name, value in kwargs.items():
            if value is not None and _is_encrypted(self.model, name):
                raise FieldError(
                    f"{self.model.__name__}.{name} is encrypted and written only by saving "
                    "its row, which binds the value to that row; QuerySet.update() and "
                    "bulk_update() cannot")
        return super().update(**kwargs)


EncryptedManager = models.Manager.from_queryset(EncryptedQuerySet)


class EncryptedModel(models.Model):
    """Base of every model with encrypted fields: their values are sealed to the row's
    primary key, which ``save()`` allocates before the insert, and opened with it when
    the row is read."""

    objects = EncryptedManager()

    class Meta:
        abstract = True
        base_manager_name = "objects"  # related objects and refreshes, bulk writes too

    def save(self, *, force_insert=False, using=None, **kwargs):
        if self.pk is None:
            using = using or router.db_for_write(type(self), instance=self)
            (self.pk,) = allocate_pks(type(self), 1, using=using)
            force_insert = True
        super().save(force_insert=force_insert, using=using, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        for attname, field in _encrypted_attnames(cls):
            stored = instance.__dict__.get(attname)
            if isinstance(stored, Sealed):
                instance.__dict__[attname] = field.open(stored.stored, row=instance.pk)
        return instance


# --- re-sealing ---------------------------------------------------------------------------

RESEAL_BATCH = 500
_HEAD_CHARS = 34  # a key id (at most 32 characters) and the separator fit


def reseal(model, *, using: str = DEFAULT_DB_ALIAS, row_bound: bool = True, lift=None,
           batch: int = RESEAL_BATCH, bind_unbound: bool = True) -> tuple[int, int]:
    """Seal the stored values of ``model``'s encrypted columns under the newest key,
    bound to their rows (``row_bound=False``: in the form of before row binding, for
    going back a migration); values already so are left as they are. Returns how many
    values were re-sealed and how many values in the other form were found.

    ``bind_unbound=False`` leaves values in the form of before row binding as they are
    (counted, not re-sealed): after the binding migrations such a value can only have
    been put into the database from elsewhere, perhaps copied from another row, and
    binding it would make it open as this row's.

    Works on the stored values, not through the model, so a migration can pass its
    historical model. One transaction per batch of rows, so an interrupted run can be
    started again; each row is read again, locked where the database can, before it is
    written. ``lift(connection, table)``, when given, is entered around a batch's writes
    (the guard of a table whose rows the database keeps unchangeable)."""
    connection = connections[using]
    ring = key_ring()
    fields = encrypted_fields(model)
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    separator = ROW_BOUND if row_bound else COLUMN_BOUND
    target = (ring.current_id, separator)
    heads = ", ".join(f"SUBSTR({quote(f.column)}, 1, {_HEAD_CHARS})" for f in fields)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    resealed = converted = 0
    last = None
    while True:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            after = "" if last is None else f"WHERE {pk} > %s "
            cursor.execute(f"SELECT {pk}, {heads} FROM {table} {after}"  # noqa: S608
                           f"ORDER BY {pk} LIMIT {batch}", [] if last is None else [last])
            rows = cursor.fetchall()
            if not rows:
                return resealed, converted
            stale = []
            for row in rows:
                columns = []
                for field, head in zip(fields, row[1:], strict=True):
                    if head is None or stored_head(head) == target:
                        continue
                    if not bind_unbound and stored_head(head)[1] != separator:
                        converted += 1  # found and left as it is
                        continue
                    columns.append(field)
                stale.append((row[0], columns))
            stale = [(row_pk, columns) for row_pk, columns in stale if columns]
            with lift(connection, model._meta.db_table) if stale and lift else nullcontext():
                for row_pk, columns in stale:
                    names = ", ".join(quote(f.column) for f in columns)
                    cursor.execute(f"SELECT {names} FROM {table} WHERE {pk} = %s{lock}",  # noqa: S608
                                   [row_pk])
                    current = cursor.fetchone()
                    if current is None:  # deleted since the batch was read
                        continue
                    changes = {}
                    for field, stored in zip(columns, current, strict=True):
                        head = stored and stored_head(stored)
                        if stored is None or head == target or (
                                not bind_unbound and head[1] != separator):
                            continue
                        plaintext = field.open_stored(stored, row=row_pk)
                        sealed = field.seal(plaintext, row=row_pk if row_bound else None)
                        changes[field] = field._to_column(sealed, connection)
                        converted += head is not None and head[1] != separator
                    if changes:
                        assignments = ", ".join(f"{quote(f.column)} = %s" for f in changes)
                        cursor.execute(f"UPDATE {table} SET {assignments} "  # noqa: S608
                                       f"WHERE {pk} = %s", [*changes.values(), row_pk])
                        resealed += len(changes)
            last = rows[-1][0]


# --- system checks ------------------------------------------------------------------------

def _models(app_configs):
    if app_configs:
        return [m for config in app_configs for m in config.get_models()]
    return apps.get_models()


@checks.register("sspf")
def encrypted_models_bound(app_configs=None, **kwargs):
    """Every model with encrypted fields binds their values to its rows: it is an
    EncryptedModel, and its primary key can be known before the insert."""
    errors = []
    for model in _models(app_configs):
        if model._meta.proxy or not encrypted_fields(model):
            continue
        if not issubclass(model, EncryptedModel):
            errors.append(checks.Error(
                f"{model._meta.label} has encrypted fields but is not an EncryptedModel: "
                "their values would not be bound to its rows.",
                hint="Derive the model from sspf.crypto.EncryptedModel.",
                obj=model, id="sspf.E004"))
        elif not (isinstance(model._meta.pk, AutoFieldMixin) or model._meta.pk.has_default()):
            errors.append(checks.Error(
                f"{model._meta.label} has encrypted fields but a primary key that is known "
                "only after the insert, so its values cannot be bound to its rows.",
                hint="Use an automatic primary key (or one with a default).",
                obj=model, id="sspf.E005"))
    return errors


# Values read per encrypted column from each end of its table (by primary key): the
# oldest rows show a key dropped before rotation, the newest a lost or mistyped key.
# Two index-ordered, limited queries per column keep the check cheap on any size.
CHECK_SAMPLE = 20


@checks.register("sspf")
def stored_values_open(app_configs=None, databases=None, **kwargs):
    """Every key id found in a sample of stored values is in the ring, and for each
    column and form one sampled value per key id opens. A database that cannot be
    reached, or a table not migrated yet, is left to the commands that need them."""
    ring = key_ring()
    missing: dict[str, str] = {}  # key id -> first column seen under it
    wrong: dict[str, str] = {}
    unnamed: list[str] = []
    unbound: list[str] = []
    for alias in databases or [DEFAULT_DB_ALIAS]:
        connection = connections[alias]
        try:
            tables = set(connection.introspection.table_names())
        except DatabaseError:
            continue
        for model in _models(app_configs):
            if model._meta.proxy or model._meta.db_table not in tables:
                continue
            for field in encrypted_fields(model):
                column = f"{model._meta.db_table}.{field.column}"
                try:
                    found = _sampled_heads(connection, model, field)
                except DatabaseError:
                    continue
                for head, pks in found.items():
                    if head is None:
                        unnamed.append(column)
                        continue
                    key_id, separator = head
                    if separator == COLUMN_BOUND and column not in unbound:
                        unbound.append(column)
                    if not ring.holds(key_id):
                        missing.setdefault(key_id, column)
                    elif key_id not in wrong and not any(
                            _opens(connection, model, field, pk) for pk in pks):
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
    if unbound:
        errors.append(checks.Warning(
            f"Stored values ({unbound[0]}) are not bound to their rows yet; the "
            "application does not open them.",
            hint="Run migrate, or rotate_keys, which re-seal them bound to their rows.",
            id="sspf.W001",
        ))
    return errors


def _sampled_heads(connection, model, field) -> dict[tuple[str, str] | None, list]:
    """The key id and form of the sampled values of one column, each with the pks of
    the rows holding a value so sealed."""
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(field.column)
    pk = quote(model._meta.pk.column)
    found: dict[tuple[str, str] | None, list] = {}
    for order in ("ASC", "DESC"):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, SUBSTR({column}, 1, {_HEAD_CHARS}) FROM {table} "  # noqa: S608
                f"WHERE {column} IS NOT NULL ORDER BY {pk} {order} LIMIT {CHECK_SAMPLE}"
            )
            for row_pk, head in cursor.fetchall():
                pks = found.setdefault(stored_head(head), [])
                if row_pk not in pks:
                    pks.append(row_pk)
    return found


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
        field.open_stored(row[0], row=pk)
    except DecryptionError:
        return False
    return True
