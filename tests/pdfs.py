"""PDF files for the tests, written with fpdf2 (nothing is downloaded).

Text is placed line by line (``FPDF.text`` at fixed positions), so where a
line ends is known exactly.  The Unicode font is DejaVu Sans, from Debian's
``fonts-dejavu-core`` (on the machine image; ``apt-get install
fonts-dejavu-core`` otherwise) or from matplotlib's bundled copy.
"""

from __future__ import annotations

import importlib.util
import random
import re
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
)


def unicode_font() -> Path:
    """A TrueType font with Latin, Cyrillic and the ligature characters."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if bundled.is_file():
            return bundled
    raise FileNotFoundError("DejaVuSans.ttf not found: apt-get install fonts-dejavu-core")


TITLE = "Handbook on Combating Trafficking"
CREATED = datetime(2023, 5, 17, 9, 30, 0, tzinfo=UTC)
HEADER = "OSCE Handbook on Trafficking"
SAMPLE_PAGES = 5
IMAGE_ONLY_PAGE = 4  # 1-based

#: The body lines of each page of :func:`sample_pdf` (None: an image-only page).
SAMPLE_BODY: list[list[str] | None] = [
    [
        "Combating traf-",
        "ficking in human beings requires anti-",
        "trafficking co-operation across borders.",
    ],
    [
        "Financial investigations \ufb01nd the \ufb02ow of",
        "money: e\ufb00ective, e\ufb03cient, ba\ufb04ing.",
        "Evidence mat\u00adters in court (2010-",
        "2015).",
    ],
    [
        "Противодействие тор-",
        "говле людьми в регионе ОБСЕ.",
    ],
    None,
    [
        "Victims of trafficking have rights:",
        "protection, assistance and access to justice.",
    ],
]

def _document(font: bool = True) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_compression(True)
    pdf.set_creation_date(CREATED)
    if font:
        pdf.add_font("DejaVu", fname=str(unicode_font()))
        pdf.set_font("DejaVu", size=11)
    else:
        pdf.set_font("Helvetica", size=11)
    return pdf


def _lines(pdf: FPDF, lines: list[str], top: float = 40, step: float = 6) -> None:
    for i, line in enumerate(lines):
        pdf.text(25, top + i * step, line)


def sample_pdf(path: Path, *, title: str | None = TITLE) -> Path:
    """A 5-page PDF: a running header and a ``Page N of 5`` footer on every page
    with text; words hyphenated at line ends (``traf-``/``ficking``,
    ``anti-``/``trafficking``, Cyrillic ``тор-``/``говле``), ligature characters
    (U+FB00-FB04), a soft hyphen, a number range broken at its hyphen, and page
    4 an image-only page (a filled rectangle, like a scan)."""
    pdf = _document()
    if title is not None:
        pdf.set_title(title)
    for number, body in enumerate(SAMPLE_BODY, start=1):
        pdf.add_page()
        if body is None:
            pdf.set_fill_color(90, 90, 90)
            pdf.rect(20, 20, 170, 250, style="F")
            continue
        pdf.text(25, 15, HEADER)
        _lines(pdf, body)
        pdf.text(25, 285, f"Page {number} of {SAMPLE_PAGES}")
    pdf.output(str(path))
    return path


def encrypted_pdf(path: Path, *, user_password: str | None = "secret") -> Path:
    """A 1-page PDF encrypted with an owner password and, unless ``None``, a
    user password (needed to open it)."""
    pdf = _document(font=False)
    pdf.set_encryption(owner_password="owner", user_password=user_password)
    pdf.add_page()
    pdf.text(25, 40, "Confidential report on trafficking.")
    pdf.output(str(path))
    return path


def truncated_pdf(path: Path, source: Path, fraction: float = 0.6) -> Path:
    """The first ``fraction`` of ``source``'s bytes, as an interrupted download
    leaves it: the cross-reference table and trailer are lost."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def truncated_at_page_pdf(path: Path, pages: int, at_page: int) -> Path:
    """A ``pages``-page PDF cut short before the objects of page ``at_page``,
    with a readable trailer: what a linearized ("fast web view") file, whose
    trailer is at the start, looks like when cut short.  PDFium opens it and
    fails on page ``at_page``."""
    pdf = _document(font=False)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.text(25, 40, f"Text of page {number}.")
    data = bytes(pdf.output())
    # fpdf2 writes the page tree as object 1 and the catalog as object 2, then
    # each page followed by its content stream (objects 3, 4; 5, 6; ...).
    page_object = 1 + 2 * at_page
    cut = re.search(rb"\n%d 0 obj" % page_object, data)
    assert cut is not None
    path.write_bytes(data[: cut.start() + 1] + b"trailer\n<<\n/Root 2 0 R\n>>\n")
    return path


_WORDS = ("trafficking human beings victims exploitation labour forced national referral "
          "mechanism assistance protection prosecution prevention co-operation supply chains "
          "the of and to in for on with by is are as").split()


def big_pdf(path: Path, pages: int, lines_per_page: int = 12, seed: int = 7) -> Path:
    """A long PDF quickly (core font, no subsetting): a running header, a
    page-number footer, and ``lines_per_page`` lines of seeded random words on
    each page."""
    rng = random.Random(seed)
    pdf = _document(font=False)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.text(25, 15, "Annual report on trafficking in human beings")
        for i in range(lines_per_page):
            pdf.text(25, 40 + 6 * i, " ".join(rng.choices(_WORDS, k=10)))
        pdf.text(100, 285, str(number))
    pdf.output(str(path))
    return path


def pages_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF whose page N holds the lines ``pages[N-1]``, one under the other
    from the top (core font: Latin-1 text only)."""
    pdf = _document(font=False)
    for lines in pages:
        pdf.add_page()
        _lines(pdf, lines, top=15)
    pdf.output(str(path))
    return path
