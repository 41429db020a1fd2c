"""Identifiers and secrets.

Public ids carry a type prefix (`agt_`, `ses_`, …) so that a stray id in a log or a support
ticket says what it is. Secrets (API keys, session tokens) are random 256-bit strings whose
prefix tells which kind of credential a WebSocket URL carries; only their SHA-256 is stored.
A fast hash is right here: the inputs are high-entropy random strings, not passwords, so
there is nothing for a slow hash to protect against, and lookups stay one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "pk_"
SESSION_TOKEN_PREFIX = "st_"


def new_id(prefix: str) -> str:
    """`<prefix>_<24 hex chars>`, e.g. `agt_5f0c…`."""
    return f"{prefix}_{secrets.token_hex(12)}"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_session_token() -> str:
    return SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(secret: str) -> str:
    """The part of a secret that is safe to show again (`pk_AbC1…`), for listings."""
    return secret[:7]
