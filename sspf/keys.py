"""Reading encryption keys from configuration.

This module turns the key settings (``SSPF_FIELD_KEYS``, ``SSPF_INDEX_KEY``,
``SSPF_AUDIT_KEY``, ``SSPF_AUDIT_SIGNING_KEY``) into bytes, and creates the development
key file used by the embedded default. It imports nothing from Django so that the
settings module can use it before Django is set up. It must never print or log a key.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

KEY_BYTES = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyConfigError(ValueError):
    """A key setting is malformed; the message names the setting, never the key."""


def decode_key(value: str, *, setting: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{setting}: the key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigError(f"{setting}: each key must be {KEY_BYTES} bytes (base64-encoded)")
    return raw


def parse_key_ring(value: str, *, setting: str = "SSPF_FIELD_KEYS") -> list[tuple[str, bytes]]:
    """Parse ``id:key,id:key`` (newest first) into ``[(id, key_bytes), ...]``."""
    ring: list[tuple[str, bytes]] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        key_id, sep, key = part.partition(":")
        if not sep or not KEY_ID_PATTERN.match(key_id):
            raise KeyConfigError(
                f"{setting}: expected comma-separated id:key pairs, "
                "the id made of letters, digits, '-' or '_'"
            )
        if any(key_id == existing for existing, _ in ring):
            raise KeyConfigError(f"{setting}: key id {key_id!r} appears twice")
        ring.append((key_id, decode_key(key, setting=setting)))
    if not ring:
        raise KeyConfigError(f"{setting}: no key given")
    return ring


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def development_keys(var_dir: Path, *, database: Path | None = None) -> dict[str, str]:
    """Return the development secrets, creating them once in ``var/dev-keys.json``.

    The file is git-ignored and readable by its owner only. It exists so that the
    embedded default runs without any environment; production never reads it. When
    the file is missing but ``database`` (the development SQLite file) already holds
    data, new keys could open none of it: that is refused instead.
    """
    path = var_dir / "dev-keys.json"
    if path.exists():
        keys = json.loads(path.read_text())
        missing = {name: make() for name, make in _DEVELOPMENT_KEYS.items() if name not in keys}
        if missing:
            # Keys introduced after the file was made are added to it; the others stay.
            keys.update(missing)
            _write_private(path, keys, replace=True)
            print(f"Added {', '.join(sorted(missing))} to the development key file "
                  f"{path.name}.", file=sys.stderr)
        return keys
    if database is not None and _holds_data(database):
        raise KeyConfigError(
            f"the development key file {path.name} is missing but the development "
            f"database {database.name} beside it already holds data, which new keys "
            "could not open; restore the file (or remove the database to start afresh)"
        )
    var_dir.mkdir(parents=True, exist_ok=True)
    keys = {name: make() for name, make in _DEVELOPMENT_KEYS.items()}
    _write_private(path, keys, replace=False)
    print(
        f"Created development keys in {path.name} under the var/ folder "
        "(not for production; keep the file, or encrypted demo data becomes unreadable).",
        file=sys.stderr,
    )
    return keys


_DEVELOPMENT_KEYS = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "SSPF_FIELD_KEYS": lambda: f"dev1:{new_key()}",
    "SSPF_INDEX_KEY": new_key,
    "SSPF_AUDIT_KEY": new_key,
    # 32 random bytes are an Ed25519 private key (RFC 8032, section 5.1.5).
    "SSPF_AUDIT_SIGNING_KEY": new_key,
}


def _write_private(path: Path, keys: dict[str, str], *, replace: bool) -> None:
    """Write the key file readable by its owner only; a replacement goes through a new
    file renamed over the old one, so an interrupted write never loses the keys."""
    target = path.with_suffix(".tmp") if replace else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keys, fh, indent=2)
    if replace:
        os.replace(target, path)


def _holds_data(database: Path) -> bool:
    """Whether the SQLite file has been migrated, and so may hold sealed values. One
    that cannot be read counts as holding data: new keys are no answer to it either."""
    if not database.exists() or database.stat().st_size == 0:
        return False
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            tables = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                "AND name = 'django_migrations'"
            ).fetchone()[0]
            return bool(tables) and db.execute(
                "SELECT count(*) FROM django_migrations").fetchone()[0] > 0
    except sqlite3.Error:
        return True
