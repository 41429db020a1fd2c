"""A file's type from its bytes (never the client's word for it), and its text.

Libraries: `pypdf` (pure Python, no system packages), `python-docx` (paragraphs and
tables), `beautifulsoup4` with the standard `html.parser` (scripts, styles and navigation
dropped; headings and paragraphs kept), `csv` (one line per row, `header: value` pairs so a
row is readable on its own). Anything that cannot be read is an `ExtractionFailed` with a
message a user can act on.
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Literal

Kind = Literal["txt", "md", "html", "pdf", "docx", "csv"]
KINDS: tuple[Kind, ...] = ("txt", "md", "html", "pdf", "docx", "csv")
CONTENT_TYPES: dict[Kind, str] = {
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "csv": "text/csv",
}


MAX_TEXT_CHARS = 5_000_000  # a document's text; more is cut (a passage index, not an archive)
MAX_UNZIPPED_BYTES = 200 << 20  # a .docx inflating past this is refused (a zip bomb)
BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "pre")


class ExtractionFailed(Exception):
    pass


def sniff(data: bytes, filename: str) -> Kind:
    """The file's kind from its content; the name only tells plain-text kinds apart."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return "docx"
        except Exception:
            pass
        raise ExtractionFailed("a zip archive that is not a Word document (.docx)")
    text = _decode(data)
    head = text[:2048].lstrip().lower()
    if head.startswith(("<!doctype html", "<html")) or "<body" in head:
        return "html"
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix == "csv":
        return "csv"
    if suffix in ("md", "markdown"):
        return "md"
    if suffix in ("htm", "html"):
        return "html"
    return "txt"


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise ExtractionFailed("binary content of a kind this server cannot read")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def extract(data: bytes, kind: Kind) -> str:
    """The document's text, paragraphs separated by blank lines (NUL removed, at most
    `MAX_TEXT_CHARS`)."""
    try:
        if kind == "pdf":
            text = _pdf(data)
        elif kind == "docx":
            text = _docx(data)
        elif kind == "html":
            text = html_text(_decode(data))
        elif kind == "csv":
            text = _csv(_decode(data))
        else:
            text = _decode(data)
    except ExtractionFailed:
        raise
    except Exception as exc:  # every library has its own exceptions for a broken file
        raise ExtractionFailed(f"the {kind} file could not be read: {exc}") from None
    return text.replace("\x00", "")[:MAX_TEXT_CHARS]


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise ExtractionFailed("the PDF is encrypted")
    pages = [(page.extract_text() or "").strip() for page in reader.pages]
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise ExtractionFailed("the PDF has no text layer (a scan needs OCR first)")
    return text


def _docx(data: bytes) -> str:
    import docx

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        inflated = sum(entry.file_size for entry in archive.infolist())
    if inflated > MAX_UNZIPPED_BYTES:
        raise ExtractionFailed(f"the Word document inflates to over {MAX_UNZIPPED_BYTES} bytes")

    document = docx.Document(io.BytesIO(data))
    parts = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                parts.append(" | ".join(cells))
    return "\n\n".join(parts)


def html_text(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for noise in soup(["script", "style", "nav", "footer", "noscript", "template"]):
        noise.decompose()
    # Outermost blocks only: a nested block's text is in its parent's already (taking each
    # would repeat it once per level, quadratic in the nesting).
    blocks = [b for b in soup.find_all(BLOCKS) if b.find_parent(BLOCKS) is None]
    texts = [" ".join(block.get_text(" ").split()) for block in blocks]
    text = "\n\n".join(t for t in texts if t)
    return text or " ".join(soup.get_text(" ").split())


def _csv(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return ""
    header, *body = rows
    lines = []
    for row in body:
        pairs = [f"{name}: {value}" for name, value in zip(header, row, strict=False) if value]
        lines.append("; ".join(pairs))
    return "\n\n".join(line for line in lines if line)
