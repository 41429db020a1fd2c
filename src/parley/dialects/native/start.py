"""The `start` payload: everything a native session can be configured with up front.

Shared by `POST /v1/voice` (prepare) and the `start` message itself, so both reject the same
inputs with the same messages. Unknown keys are ignored, as the hosted API does, so that
clients written against it keep working; but a flag must be a JSON boolean (`"yes"` for
`ephemeral` would otherwise be coerced to true and silently store nothing).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from parley.audio.formats import AudioFormat, Encoding, check_format
from parley.engine.agent import LifecycleOptions
from parley.validation import reject_bad_text

Context = Annotated[str, Field(min_length=1, max_length=2000)]
IdList = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=100)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AudioSpec(_Lenient):
    encoding: Encoding = "linear16"
    sample_rate: int = 16000

    @model_validator(mode="after")
    def _supported(self) -> AudioSpec:
        check_format(self.encoding, self.sample_rate)
        return self

    def format(self) -> AudioFormat:
        return AudioFormat(self.encoding, self.sample_rate)


class AudioConfig(_Lenient):
    input: AudioSpec = Field(default_factory=AudioSpec)
    output: AudioSpec = Field(default_factory=lambda: AudioSpec(sample_rate=24000))


class VoiceConfig(_Lenient):
    input_transcription: StrictBool = True
    output_transcription: StrictBool = True
    voice_preset: str | None = Field(default=None, max_length=200)


class UserInfo(_Lenient):
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)


class SessionConfig(_Lenient):
    system_prompt: str | None = Field(default=None, max_length=100_000)


class StartPayload(_Lenient):
    agent_id: str | None = Field(default=None, max_length=40)
    conversation_id: str | None = Field(default=None, max_length=40)
    config: SessionConfig | None = None
    file_ids: IdList = []
    secret_ids: IdList = []
    knowledge_ids: IdList = []
    page_ids: IdList = []
    user: UserInfo | None = None
    initial_context: Context | None = None
    initial_message: Context | None = None
    ephemeral: StrictBool = False
    voice_config: VoiceConfig = Field(default_factory=VoiceConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    binary_audio: StrictBool = False
    # Parley extras: the call's lifecycle (over the agent's own), recording, written replies.
    lifecycle: LifecycleOptions | None = None
    record: StrictBool = False
    output_medium: Literal["voice", "text"] = "voice"

    _text = model_validator(mode="before")(reject_bad_text)

    def echo(self) -> dict[str, Any]:
        """The payload as a client should send it back in `start` (only what was set)."""
        return self.model_dump(mode="json", exclude_unset=True)
