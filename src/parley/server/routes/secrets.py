"""`/v1/secrets`: credentials an account's HTTP tools use as `{{secret:NAME}}`.

Values are sealed at rest with `PARLEY_SECRET_KEY`; without that key set the server
refuses to store any (a key file beside the database would sit in the same backup as the
values it protects). A value is never returned by any endpoint, and a session gets only
the secrets its `start` names (`secret_ids`).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from parley.server.deps import AccountDep, ServicesDep
from parley.server.errors import ApiError, not_found
from parley.server.openapi import errors
from parley.server.schemas.common import Limit, Offset, Page
from parley.store.tables import Secret
from parley.validation import reject_bad_text

router = APIRouter(prefix="/v1/secrets", tags=["secrets"])


class SecretCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    value: str = Field(min_length=1, max_length=8192, pattern=r"^[^\x00-\x1f\x7f]+$")

    _text = model_validator(mode="before")(reject_bad_text)


class SecretOut(BaseModel):
    """A secret's name: its value is never shown."""

    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, secret: Secret) -> SecretOut:
        return cls(id=secret.id, name=secret.name, created_at=secret.created_at)


@router.post("", status_code=201, response_model=SecretOut, responses=errors(409))
async def create_secret(body: SecretCreate, account: AccountDep, found: ServicesDep) -> SecretOut:
    if not found.settings.secret_key:
        raise ApiError(
            409,
            "secret_key_unset",
            "this server stores no secrets until PARLEY_SECRET_KEY is set (a Fernet key; "
            "see docs/security.md)",
        )
    secret = await found.store.secrets.create(account.id, body.name, body.value)
    if secret is None:
        raise ApiError(409, "conflict", f"a secret named {body.name!r} exists; delete it first")
    return SecretOut.of(secret)


@router.get("", response_model=Page[SecretOut])
async def list_secrets(
    account: AccountDep, found: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[SecretOut]:
    rows, total = await found.store.secrets.names(account.id, limit=limit, offset=offset)
    return Page(data=[SecretOut.of(s) for s in rows], total=total, limit=limit, offset=offset)


@router.delete("/{secret_id}", status_code=204)
async def delete_secret(secret_id: str, account: AccountDep, found: ServicesDep) -> Response:
    if not await found.store.secrets.delete(account.id, secret_id):
        raise not_found("secret", secret_id)
    return Response(status_code=204)
