"""The documentation's links lead somewhere, and it names no file the repository lacks.

Every relative link in README.md and docs/**/*.md must reach a file or directory of the
repository, and a `#fragment` into a Markdown page must name one of its headings (as GitHub
spells heading anchors). Links inside code are not links. No page may send a reader to the
design notes that live outside the repository.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
OUTSIDE = ("PROTOCOLS.md", "DESIGN.md", "EMBEDDED.md", "BENCHMARK.md", "../shared")

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The page without its code blocks and code spans."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """The heading anchors GitHub gives a page: lower case, punctuation dropped, spaces to
    hyphens, `-1`, `-2`… on repeats."""
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
        slug = "".join(
            c
            for c in text.lower()
            if c in "-_ " or unicodedata.category(c)[0] in "LNM"  # letters, digits, marks
        ).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def links(page: Path) -> list[str]:
    prose = _prose(page.read_text())
    return INLINE_LINK.findall(prose) + REFERENCE.findall(prose)


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_pages_are_found() -> None:
    names = {_name(page) for page in PAGES}
    assert {"README.md", "docs/protocols/README.md", "docs/protocols/native.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:, …
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {_name(resolved)}")
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_no_page_names_notes_outside_the_repository(page: Path) -> None:
    text = page.read_text()
    assert [name for name in OUTSIDE if name in text] == []
