"""What the caller said over the agent (backchannel, noise, words), and what the words of a
pause say of the sentence: pure rules, checked on examples and with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.engine.backchannel import BACKCHANNELS, Backchannels, Heard, words
from parley.engine.end_of_turn import Words, assess

ENGLISH = Backchannels.for_agent("en-US")


@pytest.mark.parametrize(
    "said",
    [
        "Uh-huh.",
        "Mm-hmm.",
        "mhm",
        "Yeah, yeah.",
        "Okay!",
        "Right... Right...",
        "I see.",
        "Uh-huh, got it.",
        "Mm-m-m-m-m",  # a long hum, as Whisper spells it
        "Hmm...",
        "Oh, okay.",
        "And mm-hmm.",  # a connective leading a backchannel
        "So, yeah.",
        "Mm-huh.",  # Whisper's spelling of Piper's "mm-hmm"
    ],
)
def test_acknowledgements_and_hums_are_backchannels(said: str) -> None:
    assert ENGLISH.classify(said) is Heard.BACKCHANNEL


@pytest.mark.parametrize(
    "said",
    [
        "No.",
        "Wait.",
        "Stop!",
        "Hold on",
        "Yeah, but I wanted the large one",
        "Okay, cancel that",
        "And I'm done",
        "And.",  # a connective alone
        "So, so.",
        "Huh?",  # asking to hear it again is not listening along
        "i.e.",
    ],
)
def test_anything_else_takes_the_turn(said: str) -> None:
    assert ENGLISH.classify(said) is Heard.WORDS


@pytest.mark.parametrize("said", ["", "  ", "[coughing]", "(laughs)", "*cough* [noise]", "♪"])
def test_no_words_is_noise(said: str) -> None:
    assert ENGLISH.classify(said) is Heard.NOISE


def test_each_language_has_its_own_list_and_an_agent_its_own() -> None:
    assert Backchannels.for_agent("es").classify("Sí, vale.") is Heard.BACKCHANNEL
    assert Backchannels.for_agent("de-AT").classify("Genau, ja.") is Heard.BACKCHANNEL
    assert Backchannels.for_agent("en").classify("Genau") is Heard.WORDS
    assert Backchannels.for_agent("xx").classify("uh-huh") is Heard.BACKCHANNEL  # English
    own = Backchannels.for_agent("en", ["roger", "copy that"])
    assert own.classify("Roger. Copy that.") is Heard.BACKCHANNEL
    assert own.classify("Okay") is Heard.WORDS  # the agent's list replaces the language's
    assert own.hints == ("roger", "copy that")


@pytest.mark.parametrize(
    ("partial", "decisive"),
    [
        ("Wait, I need", True),
        ("No no I didn't", True),
        ("Sorry, can you", True),
        ("I-D", False),  # "I see" cut mid-word
        ("Hold on", False),  # two words wait for the final
        ("And Mm-hmm.", False),
        ("Uh-huh, yeah, okay.", False),  # many words, all backchannel
        ("", False),
    ],
)
def test_a_partial_takes_the_turn_only_with_three_words_or_more(
    partial: str, decisive: bool
) -> None:
    assert ENGLISH.decisive(partial) is decisive


def test_an_agents_own_list_keeps_its_languages_connectives() -> None:
    own = Backchannels.for_agent("de", ["jawohl"])
    assert own.classify("Und jawohl.") is Heard.BACKCHANNEL
    assert own.classify("Und.") is Heard.WORDS


def test_hints_are_written_as_a_recogniser_would_write_them() -> None:
    assert "Mm-hmm." in ENGLISH.hints and "Uh-huh." in ENGLISH.hints


@given(st.text(max_size=80))
def test_spelling_does_not_matter_and_only_text_without_words_is_noise(text: str) -> None:
    heard = ENGLISH.classify(text)
    assert ENGLISH.classify(text.upper()) is heard or not text.isascii()
    assert ENGLISH.classify(f"  {text}!!  ") is heard
    assert (heard is Heard.NOISE) == (not words(text))


@given(st.lists(st.sampled_from(BACKCHANNELS["en"]), min_size=1, max_size=5))
def test_any_run_of_backchannels_is_a_backchannel(phrases: list[str]) -> None:
    assert ENGLISH.classify(", ".join(phrases) + ".") is Heard.BACKCHANNEL


@pytest.mark.parametrize(
    ("said", "punctuated", "heard"),
    [
        ("I would like to order a pizza.", True, Words.CLOSED),
        ("Can you tell me what time you open?", True, Words.CLOSED),
        ("I would like to order", True, Words.TRAILING),
        ("Where can I park my car near the...", True, Words.OPEN),  # ends on "the"
        ("I lost my wallet somewhere in this...", True, Words.TRAILING),
        ("I'd like to speak to-", True, Words.OPEN),
        ("my flight was cancelled and", False, Words.OPEN),
        ("please book a table for", True, Words.OPEN),
        ("i would like to order", False, Words.UNKNOWN),  # no punctuation to read
        ("", True, Words.UNKNOWN),
        ("I cannot log in.", True, Words.CLOSED),  # "in" can end a sentence
    ],
)
def test_what_the_words_of_a_pause_say(said: str, punctuated: bool, heard: Words) -> None:
    assert assess(said, punctuated, "en") is heard


def test_languages_without_a_word_list_read_only_punctuation() -> None:
    assert assess("je voudrais commander et", False, "fr") is Words.OPEN
    assert assess("ich möchte bestellen und", False, "de") is Words.OPEN
    assert assess("vorrei ordinare e", False, "it") is Words.UNKNOWN
