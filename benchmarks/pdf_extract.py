#!/usr/bin/env python3
"""Which library extracts the text of publications' PDFs: pypdfium2 or pypdf.

    python benchmarks/pdf_extract.py [--pages 500] [--big-pages 10000] [--big-mb 200]
                                     [--repeat 3] [--seed 42] [--out benchmarks/out]
                                     [--libraries pypdfium2 pypdf pypdf-layout pdftext]

On the same PDFs, written here with fpdf2 from a seeded random stream (and
cached in ``benchmarks/data/pdf-extract-…/``):

* ``quality.pdf``, one page per text-quality case: a word hyphenated at a line
  end, a compound broken at its hyphen, ligature characters, Cyrillic, word
  gaps drawn without a space character, justified and letter-spaced text,
  two columns, paragraphs drawn out of reading order, a soft hyphen;
* ``typical.pdf``, ``--pages`` pages of dense text (DejaVu Sans embedded as a
  subset, as real reports do), with a running header and footer;
* ``big.pdf``, ``--big-pages`` text pages plus as many page-size noise JPEG
  pages ("scans") as it takes to reach ``--big-mb`` megabytes.

Measured, each run in a new process: pages per second (one process, the
extraction loop only; the best of ``--repeat`` runs), and the process's peak
resident memory (VmHWM) against its size once the library is imported.
``pdftext`` is thb_search.pdftext (pypdfium2 plus the cleaning and running
header removal), to show what the cleaning costs.  Quality: each library's
raw text for each case, and whether thb_search.pdftext's cleaning
(``clean_lines`` + ``join_lines``) of that raw text gives the expected words.

Prints Markdown and writes ``OUT/pdf-extract.md`` and ``.json``.  pypdf is
optional (skipped with a message when it is not importable).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import logging
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SEED = 42
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LIBRARIES = ("pypdfium2", "pypdf", "pypdf-layout", "pdftext")

THB_WORDS = (
    "trafficking human beings victims exploitation labour forced national referral "
    "mechanism identification assistance protection prosecution prevention OSCE "
    "participating States co-operation supply chains migrants children gender-sensitive "
    "investigations financial recruitment agencies criminal justice survivors rights "
    "compensation demand sexual services online platforms risk indicators"
).split()
FILLER = (
    "the of and to in a for on with by is are as be that this from at or which have has "
    "not their was were its been also more such should other these between under"
).split()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The PDFs


def _document() -> Any:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(__import__("datetime").datetime(2024, 1, 1))
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=10)
    return pdf


def _sentence_words(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(THB_WORDS) if rng.random() < 0.35 else rng.choice(FILLER)
            for _ in range(count)]


def _text_page(pdf: Any, rng: random.Random, number: int, lines: int) -> None:
    pdf.add_page()
    pdf.text(20, 12, "Guidance on combating trafficking in human beings")
    y = 25.0
    for _ in range(lines):
        words = _sentence_words(rng, rng.randint(11, 15))
        if rng.random() < 0.2:  # a word hyphenated at the line end
            word = rng.choice([w for w in THB_WORDS if len(w) > 7])
            cut = rng.randint(3, len(word) - 3)
            words[-1] = word[:cut] + "-"
            pdf.text(20, y, " ".join(words))
            y += 5.5
            words = [word[cut:], *_sentence_words(rng, rng.randint(9, 13))]
        pdf.text(20, y, " ".join(words))
        y += 5.5
        if y > 275:
            break
    pdf.text(100, 287, f"{number}")


def make_typical(path: Path, pages: int, seed: int) -> None:
    rng = random.Random(seed)
    pdf = _document()
    for number in range(1, pages + 1):
        _text_page(pdf, rng, number, 40)
    pdf.output(str(path))


def _noise_jpeg(rng: random.Random, side: int) -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(rng.randrange(2**32)).integers(
        0, 256, (side, side), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "L").save(out, "JPEG", quality=90)
    return out.getvalue()


def make_big(path: Path, pages: int, megabytes: int, seed: int) -> int:
    """Returns the number of image pages added."""
    rng = random.Random(seed)
    side = 2200
    sample = len(_noise_jpeg(random.Random(0), side))
    images = max(0, round(megabytes * 1_000_000 / sample))
    every = pages // images if images else 0
    pdf = _document()
    done = 0
    for number in range(1, pages + 1):
        _text_page(pdf, rng, number, 24)
        if every and number % every == 0 and done < images:
            pdf.add_page()
            pdf.image(io.BytesIO(_noise_jpeg(rng, side)), x=10, y=10, w=190)
            done += 1
    pdf.output(str(path))
    return done


JUSTIFIED = ("Victims of trafficking are entitled to assistance and protection regardless of "
             "their willingness to co-operate with the authorities in criminal proceedings.")


@dataclass(frozen=True)
class Case:
    name: str
    page: int  # 0-based page of quality.pdf
    expect: tuple[str, ...]  # in the cleaned text, in this order
    anchor: str = ""  # where the raw excerpt starts (the page's start if not found)


CASES = (
    Case("word hyphenated at a line end", 0, ("Combating trafficking in",)),
    Case("compound broken at its hyphen", 0, ("anti-trafficking co-operation",), "anti"),
    Case("ligatures U+FB00-FB04", 1, ("financial flows, effective, efficient, baffling",)),
    Case("Cyrillic (and hyphenated)", 2, ("Противодействие торговле людьми",), "тор"),
    Case("gap drawn without a space", 3, ("Wide gap",)),
    Case("justified text", 4, (JUSTIFIED,)),
    Case("letter-spaced heading", 5, ("NATIONAL REFERRAL MECHANISMS",)),
    Case("two columns, drawn column by column", 6, ("left column one", "left column three",
                                                    "right column one")),
    Case("two columns, drawn line by line", 7, ("left column one", "left column three",
                                                "right column one")),
    Case("paragraphs drawn bottom first", 8, ("First paragraph", "Second paragraph")),
    Case("soft hyphen inside a word", 9, ("Evidence matters",)),
)


def make_quality(path: Path) -> None:
    pdf = _document()
    pdf.set_font("DejaVu", size=11)

    def page(lines: list[str]) -> None:
        pdf.add_page()
        for i, line in enumerate(lines):
            pdf.text(20, 30 + 6 * i, line)

    page(["Combating traf-", "ficking in human beings requires anti-",
          "trafficking co-operation."])
    page(["Audits of \ufb01nancial \ufb02ows, e\ufb00ective, e\ufb03cient, ba\ufb04ing."])
    page(["Противодействие тор-", "говле людьми в регионе ОБСЕ."])
    pdf.add_page()
    pdf.text(20, 30, "Wide")
    pdf.text(20 + pdf.get_string_width("Wide") + 2.5, 30, "gap")
    pdf.add_page()
    pdf.set_xy(20, 30)
    pdf.multi_cell(80, 6, JUSTIFIED, align="J")
    pdf.add_page()
    pdf.set_char_spacing(3)
    pdf.text(20, 30, "NATIONAL REFERRAL MECHANISMS")
    pdf.set_char_spacing(0)
    left = ["left column one", "left column two", "left column three"]
    right = ["right column one", "right column two", "right column three"]
    pdf.add_page()
    for i, line in enumerate(left):
        pdf.text(20, 30 + 6 * i, line)
    for i, line in enumerate(right):
        pdf.text(110, 30 + 6 * i, line)
    pdf.add_page()
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        pdf.text(20, 30 + 6 * i, a)
        pdf.text(110, 30 + 6 * i, b)
    pdf.add_page()
    pdf.text(20, 60, "Second paragraph, lower on the page.")
    pdf.text(20, 30, "First paragraph, at the top.")
    page(["Evidence mat\u00adters."])
    pdf.output(str(path))


def ensure_files(folder: Path, pages: int, big_pages: int, big_mb: int,
                 seed: int) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "quality": folder / "quality.pdf",
        "typical": folder / f"typical-{pages}.pdf",
        "big": folder / f"big-{big_pages}p-{big_mb}mb.pdf",
    }
    if not files["quality"].exists():
        make_quality(files["quality"])
    if not files["typical"].exists():
        log(f"writing {files['typical'].name}")
        make_typical(files["typical"], pages, seed)
    if big_pages and not files["big"].exists():
        log(f"writing {files['big'].name} (about a minute)")
        part = files["big"].with_suffix(".part")
        images = make_big(part, big_pages, big_mb, seed)
        part.rename(files["big"])
        log(f"  {images} image pages")
    return files


# ---------------------------------------------------------------------------
# Extraction, one library at a time (also run in a child process: --worker)


def _pdfium_pages(path: Path) -> Any:
    import pypdfium2

    doc = pypdfium2.PdfDocument(path)
    try:
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            yield textpage.get_text_bounded()
            textpage.close()
            page.close()
    finally:
        doc.close()


def _pypdf_pages(path: Path, mode: str = "plain") -> Any:
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    with path.open("rb") as handle:
        reader = pypdf.PdfReader(handle)
        for page in reader.pages:
            yield page.extract_text(extraction_mode=mode)


def _pdftext_pages(path: Path) -> Any:
    from thb_search.pdftext import open_pdf

    with open_pdf(path) as pdf:
        yield from pdf.pages()


EXTRACTORS: dict[str, Callable[[Path], Any]] = {
    "pypdfium2": _pdfium_pages,
    "pypdf": _pypdf_pages,
    "pypdf-layout": lambda path: _pypdf_pages(path, "layout"),
    "pdftext": _pdftext_pages,
}
MODULES = {"pypdfium2": "pypdfium2", "pypdf": "pypdf", "pypdf-layout": "pypdf",
           "pdftext": "pypdfium2"}


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    return 0


def worker(library: str, path: Path) -> None:
    extract = EXTRACTORS[library]
    __import__(MODULES[library])
    if library == "pdftext":
        import thb_search.pdftext  # noqa: F401
    base = _vm("VmRSS")
    digest = hashlib.sha256()
    pages = chars = 0
    start = time.perf_counter()
    for text in extract(path):
        pages += 1
        chars += len(text)
        digest.update(text.encode("utf-8", "surrogatepass"))
    seconds = time.perf_counter() - start
    print(json.dumps({"pages": pages, "chars": chars, "seconds": seconds,
                      "base_kb": base, "peak_kb": _vm("VmHWM"),
                      "sha256": digest.hexdigest()}))


def run_worker(library: str, path: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--worker", library, str(path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------
# Report


def excerpt(text: str, width: int = 46) -> str:
    shown = repr(text)[1:-1]
    return "`" + (shown if len(shown) <= width else shown[: width - 1] + "…") + "`"


def quality(files: dict[str, Path], libraries: list[str]) -> list[dict[str, Any]]:
    from thb_search.pdftext import clean_lines, join_lines

    raw = {lib: list(EXTRACTORS[lib](files["quality"])) for lib in libraries
           if lib != "pdftext"}
    rows = []
    for case in CASES:
        row: dict[str, Any] = {"case": case.name, "expect": case.expect}
        for lib, pages in raw.items():
            text = pages[case.page]
            cleaned = join_lines(clean_lines(text))
            positions = [cleaned.find(e) for e in case.expect]
            ok = all(p >= 0 for p in positions) and positions == sorted(positions)
            at = max(0, text.find(case.anchor)) if case.anchor else 0
            row[lib] = {"raw": text, "excerpt": text[at:], "cleaned": cleaned, "ok": ok}
        rows.append(row)
    return rows


def render(speed: list[dict[str, Any]], rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = ["# PDF text extraction: pypdfium2 against pypdf", "",
           f"{meta['date']}, {meta['machine']}, Python {meta['python']}; "
           + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()), "",
           "## Speed and memory (one process each; extraction loop only)", "",
           "| file | library | pages | pages/s | peak RSS | RSS growth | same text twice |",
           "|---|---|---:|---:|---:|---:|---|"]
    for r in speed:
        if "error" in r:
            out.append(f"| {r['file']} | {r['library']} | | | | | {r['error']} |")
            continue
        out.append(f"| {r['file']} ({r['mb']:.0f} MB) | {r['library']} | {r['pages']:,} | "
                   f"{r['pages_per_s']:,.0f} | {r['peak_kb'] / 1024:,.0f} MB | "
                   f"{(r['peak_kb'] - r['base_kb']) / 1024:,.0f} MB | "
                   f"{'yes' if r['deterministic'] else 'NO'} |")
    libs = [k for k in rows[0] if k not in ("case", "expect")] if rows else []
    out += ["", "## Text quality (quality.pdf; raw text, and the expected words after "
            "thb_search.pdftext's cleaning of it)", "",
            "| case | " + " | ".join(f"{lib} raw | cleaned" for lib in libs) + " |",
            "|---|" + "---|---|" * len(libs)]
    for row in rows:
        cells = [f"{excerpt(row[lib]['excerpt'])} | {'ok' if row[lib]['ok'] else 'FAIL'}"
                 for lib in libs]
        out.append(f"| {row['case']} | " + " | ".join(cells) + " |")
    fails = [f"- {lib}, {row['case']}: `{row[lib]['cleaned'][:100]}`"
             for row in rows for lib in libs if not row[lib]["ok"]]
    if fails:
        out += ["", "Failures, cleaned text:", *fails]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("LIBRARY", "PDF"), help=argparse.SUPPRESS)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--big-pages", type=int, default=10_000,
                        help="text pages of the big file (0: no big file)")
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return 0

    libraries = []
    for lib in args.libraries:
        if importlib.util.find_spec(MODULES[lib]) is None:
            log(f"{lib}: {MODULES[lib]} is not importable, skipped (pip install {MODULES[lib]})")
        else:
            libraries.append(lib)
    if not FONT.is_file():
        log(f"{FONT} is missing: apt-get install fonts-dejavu-core")
        return 1
    folder = args.data / f"pdf-extract-seed{args.seed}"
    files = ensure_files(folder, args.pages, args.big_pages, args.big_mb, args.seed)

    speed = []
    for name in ("typical", "big"):
        if name == "big" and not args.big_pages:
            continue
        path = files[name]
        with path.open("rb") as handle:  # into the page cache: every library reads it warm
            while handle.read(1 << 20):
                pass
        for lib in libraries:
            if name == "big" and lib == "pypdf-layout":
                continue  # the layout mode's speed is clear from the typical file
            runs = []
            for _ in range(args.repeat if name == "typical" else 1):
                log(f"{lib} on {path.name}")
                try:
                    runs.append(run_worker(lib, path))
                except subprocess.CalledProcessError as exc:
                    runs = []
                    speed.append({"file": name, "library": lib,
                                  "error": exc.stderr.strip().splitlines()[-1][:80]})
                    break
            if not runs:
                continue
            best = min(runs, key=lambda r: r["seconds"])
            again = run_worker(lib, path) if len(runs) == 1 else runs[1]
            speed.append({"file": name, "library": lib, "mb": path.stat().st_size / 1e6,
                          **best, "pages_per_s": best["pages"] / best["seconds"],
                          "peak_kb": max(r["peak_kb"] for r in runs),
                          "deterministic": again["sha256"] == best["sha256"]})
    rows = quality(files, libraries)
    from importlib.metadata import version

    meta = {"date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
            "machine": f"{platform.machine()}",
            "versions": {m: version(m) for m in ("pypdfium2", "pypdf", "fpdf2")
                         if importlib.util.find_spec(m.replace("fpdf2", "fpdf"))},
            "seed": args.seed}
    text = render(speed, rows, meta)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pdf-extract.md").write_text(text, "utf-8")
    (args.out / "pdf-extract.json").write_text(json.dumps(
        {"meta": meta, "speed": speed, "quality": rows}, indent=1, ensure_ascii=False), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
