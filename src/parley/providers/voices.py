"""What each speech synthesiser can say things in: the voices an agent's `voice_id` may name.

An agent's `voice_id` is checked against its TTS's catalogue when the agent is saved, so a
typo (`"klingon"`) is a 422 naming the choices instead of a call spoken in the default
voice. A catalogue that cannot be listed (a fake's, or a cloud provider's that did not
answer) accepts any id.

- espeak: `default` (the language's own), a language voice (`en-us`, `de`), or one with a
  variant (`en-us+m3`, `en+Annie`). Both lists are read from espeak-ng's own data files.
- Piper: the bundled voice (`joe`, `en_US-joe-medium`), a voice `.onnx` in
  `<data_dir>/voices/` by its file name without `.onnx`, a path to a `.onnx` that exists;
  and every espeak voice, which Piper hands to espeak (so agents made for espeak keep theirs).
- OpenAI-compatible speech: OpenAI's published voice names.
- ElevenLabs and Deepgram: asked of the provider (`voices_cloud.py`); an ElevenLabs id may
  carry a model (`<voice id>/eleven_flash_v2_5`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

PIPER_BUNDLED = ("joe", "en_US-joe-medium")
OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    language: str | None
    provider: str  # the engine that speaks it


@dataclass(frozen=True)
class Catalogue:
    """The voices of one TTS spec; `listed` False means any id is taken as given."""

    provider: str
    voices: tuple[Voice, ...] = ()
    variants: tuple[str, ...] = ()  # espeak's `+variant` suffixes
    listed: bool = True
    aliases: frozenset[str] = frozenset()  # ids accepted but not listed (espeak's `en`)
    models: bool = False  # an id may carry `/<model>` (ElevenLabs' `<voice id>/<model>`)

    def accepts(self, voice_id: str) -> bool:
        if not self.listed or voice_id == "default":
            return True
        ids = {voice.id for voice in self.voices} | self.aliases
        if voice_id in ids:
            return True
        base, plus, variant = voice_id.partition("+")
        if plus and base in ids and variant in self.variants:
            return True
        voice, slash, model = voice_id.partition("/")
        if self.models and slash and model and voice in ids:
            return True
        return voice_id.endswith(".onnx") and Path(voice_id).expanduser().is_file()

    def choices(self, limit: int = 12) -> str:
        """A short list for an error message."""
        ids = [voice.id for voice in self.voices]
        shown = ", ".join(ids[:limit])
        return shown + (
            f" … ({len(ids)} in all; GET /v1/voices lists them)" if len(ids) > limit else ""
        )


def unlisted(provider: str) -> Catalogue:
    return Catalogue(provider, listed=False)


@functools.cache
def _espeak() -> tuple[tuple[Voice, ...], tuple[str, ...], frozenset[str]]:
    """espeak's language voices (by their first `language`), `+variants`, and every other
    language a voice file also answers to (`en` is `gb`'s second)."""
    import espeakng_loader

    data = Path(espeakng_loader.get_data_path())
    voices: dict[str, Voice] = {}
    aliases: set[str] = set()
    for path in sorted((data / "lang").rglob("*")):
        if not path.is_file():
            continue
        name, languages = _read(path)
        if languages:
            voices.setdefault(languages[0], Voice(languages[0], name, languages[0], "espeak"))
            aliases.update(languages[1:])
    variants = tuple(sorted(p.name for p in (data / "voices" / "!v").iterdir() if p.is_file()))
    listed = tuple(sorted(voices.values(), key=lambda voice: voice.id))
    return listed, variants, frozenset(aliases - voices.keys())


def _read(path: Path) -> tuple[str, list[str]]:
    """An espeak voice file's `name` and the languages of its `language` lines."""
    name, languages = path.name, []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.split("//")[0].strip().partition(" ")
        if key == "name" and value:
            name = value.strip()
        elif key == "language" and value.split():
            languages.append(value.split()[0])
    return name, languages


def espeak() -> Catalogue:
    voices, variants, aliases = _espeak()
    return Catalogue("espeak", voices, variants, aliases=aliases)


def piper(data_dir: Path, argument: str | None) -> Catalogue:
    own = [Voice(name, "Joe (the bundled voice)", "en-us", "piper") for name in PIPER_BUNDLED]
    if argument:
        own.append(Voice(argument, Path(argument).stem, None, "piper"))
    folder = data_dir / "voices"
    if folder.is_dir():
        own += [
            Voice(path.stem, path.stem, None, "piper")
            for path in sorted(folder.glob("*.onnx"))
            if Path(f"{path}.json").is_file()
        ]
    espeak_voices, variants, aliases = _espeak()
    return Catalogue("piper", (*own, *espeak_voices), variants, aliases=aliases)


def piper_voice_path(data_dir: Path, voice_id: str) -> Path | None:
    """The `.onnx` a Piper `voice_id` names in `<data_dir>/voices/`, if it does."""
    path = data_dir / "voices" / f"{voice_id}.onnx"
    return path if "/" not in voice_id and path.is_file() else None


def openai() -> Catalogue:
    return Catalogue("openai-tts", tuple(Voice(v, v, None, "openai-tts") for v in OPENAI_VOICES))
