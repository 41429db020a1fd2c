"""`GET /v1/voices`: the voices an agent's `voice_id` may name, for each TTS this server
can speak with (docs/protocols/rest.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from parley.server.deps import AccountDep, ServicesDep
from parley.server.openapi import errors
from parley.server.voices import listing

router = APIRouter(prefix="/v1/voices", tags=["voices"])


class VoiceOut(BaseModel):
    id: str = Field(description="What an agent's `voice_id` names.")
    name: str
    language: str | None
    provider: str = Field(description="The engine that speaks it (Piper hands espeak's on).")
    tts: str = Field(description="The TTS family whose voice it is (an agent's `tts`).")


class TtsOut(BaseModel):
    name: str
    spec: str
    default: bool = Field(description="The server's own TTS (`PARLEY_TTS`).")
    listed: bool = Field(
        description="False: its voices cannot be listed (a fake, or a cloud provider that "
        "did not answer); any id is taken."
    )


class VoicesOut(BaseModel):
    data: list[VoiceOut]
    providers: list[TtsOut]


@router.get("", response_model=VoicesOut, responses=errors(404))
async def list_voices(
    _account: AccountDep,
    found: ServicesDep,
    provider: Annotated[str | None, Query(max_length=40, description="One TTS family.")] = None,
) -> dict[str, Any]:
    return await listing(found.hub, found.voices, provider)
