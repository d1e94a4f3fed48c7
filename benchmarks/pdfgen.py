#!/usr/bin/env python3
"""Synthetic publications' PDFs for the full-text benchmark (``fulltext.py``).

    python benchmarks/pdfgen.py --documents 1000 [--seed 42] [--workers 2]

Document ``n`` is the PDF of record ``syn-000000n`` of the synthetic catalogue
(``generate.py``, same seed): 20-200 pages (a triangular distribution with
its mode at 80, so about 100 pages on average and about 100,000 pages for
1,000 documents) of running text drawn from the catalogue's own Zipf
vocabulary with its THB phrases mixed in (``generate._words``), in sentences,
set in lines of at most 170 mm of 10-point Helvetica (fpdf2's core font:
nothing embedded, fast to write); about a third of the lines whose next word
does not fit end with that word hyphenated (``traf-`` / ``ficking``).  Every
page has a running header (the record's title on odd pages, its office on
even ones) and a page-number footer, which thb-search's text extraction is
to remove.  A page is 28-44 lines (one in twenty is a chapter's short last
page of 4-16 lines).

Besides the ``--documents`` PDFs, :data:`EXTRA_DOCUMENTS` more are written for
records 1000-1019 (never part of the indexed set): the incremental additions.

Each document comes from its own random stream (``fulltext-SEED-n``), so a
smaller set is a prefix of a bigger one, files are generated only when
missing (into ``benchmarks/data/fulltext-seedSEED/``, in ``--workers``
processes), and :func:`document_pages` gives the exact text of any page
again without writing the PDF (what the extraction check and the query mix
of ``fulltext.py`` use).  ``manifest.json`` there lists each file's pages,
bytes and the seconds it took to write, and each generation run's wall time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from generate import (
    DEFAULT_SEED,
    _capitalized,
    _words,
    build_vocabulary,
    generate_records,
)

HERE = Path(__file__).resolve().parent
MIN_PAGES, MODE_PAGES, MAX_PAGES = 20, 80, 200
#: PDFs written beyond the indexed ones, for records FIRST_EXTRA, FIRST_EXTRA + 1, ...
EXTRA_DOCUMENTS = 20
FIRST_EXTRA = 1000
#: Body lines of a page, and of a chapter's short last page (one page in twenty).
LINES, SHORT_LINES, SHORT_RATE = (28, 44), (4, 16), 0.05
#: Share of the lines whose next word does not fit that end with it hyphenated.
HYPHENATION_RATE = 0.35
FONT, FONT_SIZE = "Helvetica", 10
LEFT, LINE_WIDTH = 20.0, 170.0  # mm
TOP, LINE_STEP = 25.0, 5.2  # mm
HEADER_Y, FOOTER_Y = 14.0, 285.0
HEADER_CHARS = 90


@dataclass(frozen=True)
class Page:
    """One generated page: its header, body lines and footer as drawn, and
    ``text``, what a perfect extraction gives after cleaning: the body's words
    separated by single spaces, hyphenated words whole, header and footer gone."""

    header: str
    lines: tuple[str, ...]
    footer: str
    text: str


def record_of(number: int) -> str:
    return f"syn-{number:07d}"


def pdf_name(number: int) -> str:
    return f"doc-{number:04d}.pdf"


@lru_cache(maxsize=1)
def _char_widths() -> dict[str, float]:
    """Each character's width in mm in the body font (the core font's metrics,
    as fpdf2's ``get_string_width`` sums them, without its per-call overhead)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font(FONT, size=FONT_SIZE)
    return {c: w * FONT_SIZE / 1000 / pdf.k for c, w in pdf.current_font.cw.items()}


def width(text: str) -> float:
    """Width in mm of ``text`` in the body font."""
    widths = _char_widths()
    return sum(widths[c] for c in text)


def _sentences(rng: random.Random, seed: int) -> Any:
    """Words of running text, sentence after sentence, endlessly."""
    vocabulary = build_vocabulary(seed)
    while True:
        words = _words(rng, vocabulary, rng.randint(8, 24))
        words[0] = _capitalized(words[0])
        for i in range(len(words) - 1):
            if rng.random() < 0.04:
                words[i] += ","
        words[-1] += "."
        yield from words


def _splittable(word: str) -> bool:
    return len(word) >= 8 and word.isalpha() and word[1:].islower()


def _short(text: str, limit: int = HEADER_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]


def page_count(number: int, seed: int = DEFAULT_SEED) -> int:
    return round(random.Random(f"fulltext-{seed}-{number}-pages").triangular(
        MIN_PAGES, MAX_PAGES, MODE_PAGES))


def document_pages(number: int, record: dict[str, Any], seed: int = DEFAULT_SEED) -> list[Page]:
    """Every page of document ``number`` (the PDF of ``record``), as drawn."""
    from thb_search.pdftext import COMPOUND_FIRST_PARTS

    rng = random.Random(f"fulltext-{seed}-{number}")
    words = _sentences(rng, seed)
    space = width(" ")
    title = _short(str(record["title"]))
    office = _short(str(record["office"][0]))
    pages = []
    pending = next(words)
    for n in range(1, page_count(number, seed) + 1):
        low, high = SHORT_LINES if rng.random() < SHORT_RATE else LINES
        count = rng.randint(low, high)
        lines: list[str] = []
        body: list[str] = []
        carry = ""
        for i in range(count):
            line = [carry] if carry else []
            used = width(carry) if carry else 0.0
            carry = ""
            while True:
                add = width(pending) + (space if line else 0.0)
                if used + add <= LINE_WIDTH:
                    line.append(pending)
                    body.append(pending)
                    used += add
                    pending = next(words)
                    continue
                if (i < count - 1 and line and _splittable(pending)
                        and rng.random() < HYPHENATION_RATE):
                    room = LINE_WIDTH - used - space
                    cuts = [c for c in range(3, len(pending) - 2)
                            if width(pending[:c] + "-") <= room
                            and pending[:c].lower() not in COMPOUND_FIRST_PARTS]
                    if cuts:
                        cut = cuts[-1]
                        line.append(pending[:cut] + "-")
                        body.append(pending)
                        carry = pending[cut:]
                        pending = next(words)
                break
            lines.append(" ".join(line))
        header = title if n % 2 else office
        pages.append(Page(header, tuple(lines), str(n), " ".join(body)))
    return pages


def write_pdf(path: Path, number: int, record: dict[str, Any],
              seed: int = DEFAULT_SEED) -> tuple[int, int, float]:
    """Write document ``number``; returns (pages, bytes, seconds)."""
    from fpdf import FPDF

    start = time.perf_counter()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_compression(True)
    pdf.set_title(str(record["title"]))
    pdf.set_creation_date(dt.datetime.fromisoformat(f"{record['date']}T09:00:00+00:00"))
    pdf.set_font(FONT, size=FONT_SIZE)
    pages = document_pages(number, record, seed)
    for page in pages:
        pdf.add_page()
        pdf.set_font_size(8)
        pdf.text(LEFT, HEADER_Y, page.header)
        pdf.text(105 - width(page.footer) / 2, FOOTER_Y, page.footer)
        pdf.set_font_size(FONT_SIZE)
        for i, line in enumerate(page.lines):
            pdf.text(LEFT, TOP + i * LINE_STEP, line)
    part = path.with_name(path.name + ".part")
    pdf.output(str(part))
    part.replace(path)
    return len(pages), path.stat().st_size, time.perf_counter() - start


def _write_one(args: tuple[str, int, dict[str, Any], int]) -> tuple[str, int, int, float]:
    path, number, record, seed = args
    return (Path(path).name, *write_pdf(Path(path), number, record, seed))


def folder_for(seed: int, data: Path = HERE / "data") -> Path:
    return data / f"fulltext-seed{seed}"


def numbers(documents: int) -> list[int]:
    """The document numbers of a set: the indexed ones, then the extra ones."""
    return [*range(documents), *range(FIRST_EXTRA, FIRST_EXTRA + EXTRA_DOCUMENTS)]


def records_for(documents: int, seed: int = DEFAULT_SEED) -> dict[int, dict[str, Any]]:
    """The catalogue records the documents of a set belong to, by number."""
    wanted = set(numbers(documents))
    return {n: r for n, r in enumerate(generate_records(max(wanted) + 1, seed)) if n in wanted}


def ensure_pdfs(documents: int, seed: int = DEFAULT_SEED, workers: int | None = None,
                folder: Path | None = None, log: Any = None) -> dict[str, Any]:
    """Write the PDFs of the set that are missing; return the manifest:
    ``files`` (name -> number, record, pages, bytes, seconds) and ``runs``
    (each generation run's documents, pages, wall seconds and workers)."""
    if documents > FIRST_EXTRA:
        raise ValueError(f"at most {FIRST_EXTRA} documents (records {FIRST_EXTRA}+ are the "
                         "extra ones)")
    folder = folder or folder_for(seed)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    manifest: dict[str, Any] = (json.loads(manifest_path.read_text("utf-8"))
                                if manifest_path.exists() else {"seed": seed, "files": {},
                                                                  "runs": []})
    records = records_for(documents, seed)
    todo = [(str(folder / pdf_name(n)), n, records[n], seed) for n in numbers(documents)
            if pdf_name(n) not in manifest["files"] or not (folder / pdf_name(n)).exists()]
    if todo:
        workers = workers or len(os.sched_getaffinity(0))
        if log:
            log(f"writing {len(todo)} PDFs into {folder} ({workers} worker processes)")
        start = time.perf_counter()
        done = []
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
            for name, pages, size, seconds in pool.map(_write_one, todo, chunksize=4):
                number = int(name[4:8])
                manifest["files"][name] = {"number": number, "record": record_of(number),
                                           "pages": pages, "bytes": size,
                                           "seconds": round(seconds, 4)}
                done.append(pages)
                if log and len(done) % 100 == 0:
                    log(f"  {len(done)} of {len(todo)} PDFs")
        wall = time.perf_counter() - start
        manifest["runs"].append({"date": dt.datetime.now().isoformat(timespec="seconds"),
                                 "documents": len(todo), "pages": sum(done),
                                 "wall_seconds": round(wall, 2), "workers": workers,
                                 "cpus": len(os.sched_getaffinity(0))})
        tmp = manifest_path.with_name(manifest_path.name + ".part")
        tmp.write_text(json.dumps(manifest, indent=1), "utf-8")
        tmp.replace(manifest_path)
        if log:
            log(f"wrote {len(todo)} PDFs ({sum(done):,} pages) in {wall:.1f} s")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000,
                        help="PDFs of the indexed set (plus the extra ones) [default: 1000]")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes writing PDFs [default: one per CPU]")
    args = parser.parse_args(argv)
    manifest = ensure_pdfs(args.documents, args.seed, args.workers,
                           log=lambda m: print(m, file=sys.stderr, flush=True))
    files = [manifest["files"][pdf_name(n)] for n in range(args.documents)]
    print(f"{len(files)} PDFs, {sum(f['pages'] for f in files):,} pages, "
          f"{sum(f['bytes'] for f in files) / 1e6:,.0f} MB in {folder_for(args.seed)}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
