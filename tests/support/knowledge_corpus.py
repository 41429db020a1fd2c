# ruff: noqa: E501  (the corpus is prose: a paragraph a line)
"""A small business's documents, in every format Parley reads, and questions a caller
would ask about them, worded as a caller would (not copied from the text).

Each fact is a paragraph in one document; `key` is a phrase only that paragraph holds, so
a retrieved passage answers the question if it contains the key.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import docx


@dataclass(frozen=True)
class Fact:
    kind: str  # the document it is in
    paragraph: str
    question: str
    key: str


FACTS = [
    # hours.txt
    Fact(
        "txt",
        "Harbor Lights Dental is open Monday to Friday from eight in the morning until six in the evening. The front desk answers the phone from half past seven.",
        "What time do you open on weekdays?",
        "eight in the morning",
    ),
    Fact(
        "txt",
        "On Saturdays the clinic opens at nine and closes at one in the afternoon. We are closed on Sundays and on public holidays.",
        "Are you open at the weekend, on Saturday?",
        "Saturdays the clinic opens at nine",
    ),
    Fact(
        "txt",
        "The clinic is at 14 Quay Street, above the bakery, opposite the ferry terminal. The entrance is on the side street, next to the bicycle racks.",
        "What is your address, where is the clinic?",
        "14 Quay Street",
    ),
    Fact(
        "txt",
        "Parking is free for patients in the multi-storey car park on Dock Road for up to two hours. Ask reception to stamp your ticket.",
        "Where can I park my car?",
        "Dock Road",
    ),
    Fact(
        "txt",
        "Emergency appointments for severe toothache are kept free every morning at eight thirty. Call as early as you can on the day.",
        "I have a terrible toothache, can I be seen today as an emergency?",
        "Emergency appointments",
    ),
    # payments.md
    Fact(
        "md",
        "## Insurance\n\nWe accept Bluewave, Northstar and Meridian dental insurance plans. Bring your membership card to every visit.",
        "Which insurance plans do you take?",
        "Bluewave, Northstar and Meridian",
    ),
    Fact(
        "md",
        "## Paying\n\nYou can pay by card, contactless phone payment or bank transfer. We no longer accept cheques.",
        "Can I pay with a cheque?",
        "no longer accept cheques",
    ),
    Fact(
        "md",
        "## Payment plans\n\nTreatments over five hundred pounds can be spread over twelve monthly instalments with no interest.",
        "Can I spread the cost of an expensive treatment over several months?",
        "twelve monthly instalments",
    ),
    Fact(
        "md",
        "## Children\n\nCheck-ups for children under eighteen are free when a parent is also registered as a patient.",
        "Do kids pay for a check-up?",
        "children under eighteen are free",
    ),
    Fact(
        "md",
        "## Deposits\n\nA deposit of fifty pounds is taken when you book a course of treatment, and deducted from the final bill.",
        "Do I need to pay a deposit when booking treatment?",
        "deposit of fifty pounds",
    ),
    # services.html
    Fact(
        "html",
        "Teeth whitening at Harbor Lights uses custom trays you wear at home for two weeks, after a fitting appointment.",
        "How does your teeth whitening work?",
        "custom trays you wear at home",
    ),
    Fact(
        "html",
        "Our hygienists offer a scale and polish in a forty five minute appointment, recommended every six months.",
        "How long does a cleaning with the hygienist take?",
        "forty five minute appointment",
    ),
    Fact(
        "html",
        "Invisible aligners are fitted by Dr Okafor after a free orthodontic consultation and a 3D scan.",
        "Do you do invisible braces?",
        "Invisible aligners",
    ),
    Fact(
        "html",
        "Dental implants replace a missing tooth with a titanium post; the whole process usually takes three to six months.",
        "How long does getting an implant take?",
        "titanium post",
    ),
    Fact(
        "html",
        "Nervous patients can ask for sedation with a calming medicine taken by mouth before the appointment.",
        "I am scared of the dentist, can you sedate me?",
        "Nervous patients",
    ),
    # policies.pdf
    Fact(
        "pdf",
        "Cancellation policy: please give at least twenty four hours notice if you cannot attend. Missed appointments are charged at thirty pounds.",
        "What happens if I miss my appointment without cancelling?",
        "charged at thirty pounds",
    ),
    Fact(
        "pdf",
        "Late arrival: if you arrive more than fifteen minutes late your appointment may have to be rebooked.",
        "What if I am running late for my appointment?",
        "fifteen minutes late",
    ),
    Fact(
        "pdf",
        "Medical history: we ask every patient to update their medical history form once a year and before any surgery.",
        "How often do I need to fill in the medical form?",
        "update their medical history",
    ),
    Fact(
        "pdf",
        "Complaints are handled by the practice manager, Priya Nair, who replies within ten working days.",
        "Who do I speak to about a complaint?",
        "Priya Nair",
    ),
    Fact(
        "pdf",
        "Recall reminders are sent by text message two weeks before your next check-up is due.",
        "Will you remind me when my next check-up is due?",
        "Recall reminders",
    ),
    # staff.docx
    Fact(
        "docx",
        "Dr Samuel Okafor is the principal dentist and specialises in orthodontics and aligners. He has practised for twenty years.",
        "Who is the main dentist at the practice?",
        "principal dentist",
    ),
    Fact(
        "docx",
        "Dr Lena Virtanen treats children and has a special interest in preventive care and fissure sealants.",
        "Is there a dentist who is good with children?",
        "Lena Virtanen",
    ),
    Fact(
        "docx",
        "Tom Becker is our hygienist and works on Tuesdays, Wednesdays and Saturdays.",
        "Which days does the hygienist work?",
        "Tom Becker",
    ),
    Fact(
        "docx",
        "The reception team of Maria and Joe speak English, Spanish and Portuguese.",
        "Does anyone at reception speak Spanish?",
        "Spanish and Portuguese",
    ),
    Fact(
        "docx",
        "Dr Aisha Rahman places implants and performs wisdom tooth extractions under local anaesthetic.",
        "Who takes out wisdom teeth?",
        "wisdom tooth extractions",
    ),
    # prices.csv (one row a fact)
    Fact(
        "csv",
        "Check-up with X-rays,45 pounds,Every six months for adults",
        "How much does a check-up cost?",
        "Check-up with X-rays",
    ),
    Fact(
        "csv",
        "White filling,120 pounds,Tooth-coloured composite",
        "What is the price of a white filling?",
        "White filling",
    ),
    Fact(
        "csv",
        "Root canal treatment,450 pounds,Front teeth; molars cost more",
        "How much is a root canal?",
        "Root canal treatment",
    ),
    Fact(
        "csv",
        "Crown,600 pounds,Porcelain fused to metal or all ceramic",
        "What does a crown cost?",
        "treatment: Crown",
    ),
    Fact(
        "csv",
        "Extraction,90 pounds,Simple extraction of one tooth",
        "How much to have a tooth pulled out?",
        "treatment: Extraction",
    ),
]


def document(kind: str) -> tuple[str, bytes]:
    """(file name, bytes) of the document that holds every fact of `kind`."""
    paragraphs = [fact.paragraph for fact in FACTS if fact.kind == kind]
    if kind == "txt":
        return "hours.txt", "\n\n".join(paragraphs).encode()
    if kind == "md":
        return "payments.md", ("# Paying for your care\n\n" + "\n\n".join(paragraphs)).encode()
    if kind == "html":
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        page = "<!doctype html><html><head><title>Services</title><style>p{}</style>"
        return (
            "services.html",
            f"{page}<script>var x=1;</script></head><body><nav>Home</nav><h1>Our services</h1>{body}</body></html>".encode(),
        )
    if kind == "pdf":
        return "policies.pdf", pdf(paragraphs)
    if kind == "docx":
        word = docx.Document()
        word.add_heading("Our team", 1)
        for paragraph in paragraphs:
            word.add_paragraph(paragraph)
        out = io.BytesIO()
        word.save(out)
        return "staff.docx", out.getvalue()
    rows = ["treatment,price,notes", *paragraphs]
    return "prices.csv", "\n".join(rows).encode()


def pdf(paragraphs: list[str]) -> bytes:
    """A minimal, valid one-page PDF whose text layer holds the paragraphs (one per line
    group, wrapped at ~80 characters), in Helvetica."""
    lines: list[str] = []
    for paragraph in paragraphs:
        words, line = paragraph.split(), ""
        for word in words:
            if len(line) + len(word) > 80:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.extend([line, ""])
    escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    stream = "BT /F1 11 Tf 14 TL 60 760 Td " + " ".join(f"({t}) '" for t in escaped) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out
