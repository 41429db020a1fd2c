"""Secrets at rest: the header values of agents' endpoints are sealed before they are stored.

Agents carry credentials for the services they call (an HTTP tool's `Authorization`, a
custom LLM endpoint's key). The API never shows them again (they come back masked); the
database must not hold them in the clear either, or a backup or a read-only SQL account
leaks every tenant's keys. So every value of a `headers` object in a sealed column is
encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) on the way in and
opened on the way out: code above the store only ever sees plaintext.

Keys: `PARLEY_SECRET_KEY` (a comma list of Fernet keys; the first seals, all open, so keys
can be rotated), else a key file `secret.key` made in the data directory on first start
(mode 0600). Several machines sharing one database must share `PARLEY_SECRET_KEY`. A sealed
value names its key (`sealed:v1:<key id>:<token>`); a value stored before sealing existed is
read as it is and sealed on its next write. The keyring is per process and only grows, so
several stores in one process (tests) can each open what they wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import JSON, Dialect, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

PREFIX = "sealed:v1:"
KEY_FILE = "secret.key"


class SecretUnreadable(Exception):
    """A sealed value whose key this process does not have (a different PARLEY_SECRET_KEY)."""


class Keyring:
    def __init__(self) -> None:
        self._keys: dict[str, Fernet] = {}
        self._sealing: str | None = None

    def use(self, keys: list[bytes]) -> None:
        """Add `keys`; the first becomes the one that seals."""
        for key in reversed(keys):
            kid = key_id(key)
            self._keys[kid] = Fernet(key)
            self._sealing = kid

    def seal(self, text: str) -> str:
        if text.startswith(PREFIX):
            return text
        if self._sealing is None:
            raise RuntimeError("no secret key configured: open the store with its settings")
        token = self._keys[self._sealing].encrypt(text.encode()).decode()
        return f"{PREFIX}{self._sealing}:{token}"

    def open(self, text: str) -> str:
        if not text.startswith(PREFIX):
            return text  # stored before sealing existed
        kid, _, token = text[len(PREFIX) :].partition(":")
        fernet = self._keys.get(kid)
        if fernet is None:
            raise SecretUnreadable(
                f"a stored secret was sealed with key {kid}, which this server does not have "
                "(every server sharing the database needs the same PARLEY_SECRET_KEY)"
            )
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(f"a stored secret sealed with key {kid} is corrupt") from None


KEYRING = Keyring()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def load_keys(configured: str | None, data_dir: Path) -> list[bytes]:
    """The configured keys, or this data directory's key file (made on first use)."""
    if configured:
        keys = [item.strip().encode() for item in configured.split(",") if item.strip()]
        for key in keys:
            try:
                Fernet(key)
            except ValueError:
                raise ValueError(
                    "PARLEY_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes; make one "
                    "with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')"
                ) from None
        return keys
    path = data_dir / KEY_FILE
    if not path.exists():  # written aside, then linked: processes starting together agree
        data_dir.mkdir(parents=True, exist_ok=True)
        aside = data_dir / f".{KEY_FILE}.{os.getpid()}"
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(Fernet.generate_key())
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
        aside.unlink()
    return [path.read_bytes().strip()]


def _map_headers(value: Any, change: Any) -> Any:
    """A copy of a JSON value with `change` applied to every value of every `headers` object."""
    if isinstance(value, list):
        return [_map_headers(item, change) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "headers" and isinstance(item, dict):
            out[key] = {name: change(v) if isinstance(v, str) else v for name, v in item.items()}
        else:
            out[key] = _map_headers(item, change)
    return out


class SealedJSON(TypeDecorator[Any]):
    """JSON whose `headers` values are sealed in the database (see the module docstring)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _map_headers(value, KEYRING.seal)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _map_headers(value, KEYRING.open)


class SealedText(TypeDecorator[str]):
    """A text column whose whole value is sealed (a secret's value)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else KEYRING.seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else KEYRING.open(value)
