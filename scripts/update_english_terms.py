#!/usr/bin/env python3
"""Regenerate ``src/thb_search/data/english-terms.txt.gz`` from the word lists.

    apt-get install -y wamerican-large wbritish-large
    python scripts/update_english_terms.py

The table lists every word of SCOWL's large American and British lists (as
Debian ships them) with the term the analysis chain gives it (``word`` alone
when the term is the word).  Run it after any change to the analysis;
``tests/test_analysis.py`` checks the table against the chain (a sample by
default, every word with ``-m slow``).
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

from thb_search.analysis import STOPWORDS, _compute_term, fold

LISTS = [Path("/usr/share/dict/american-english-large"),
         Path("/usr/share/dict/british-english-large")]
TABLE = (Path(__file__).resolve().parent.parent / "src" / "thb_search" / "data"
         / "english-terms.txt.gz")


def main() -> int:
    missing = [str(p) for p in LISTS if not p.exists()]
    if missing:
        print(f"missing {', '.join(missing)}: apt-get install -y wamerican-large "
              "wbritish-large", file=sys.stderr)
        return 1
    words = set()
    for path in LISTS:
        for line in path.read_text("utf-8").splitlines():
            word = fold(line.strip())
            if re.fullmatch(r"[a-z]+", word) and word not in STOPWORDS:
                words.add(word)
    lines = [w if (t := _compute_term(w)) == w else f"{w} {t}" for w in sorted(words)]
    TABLE.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("ascii"), mtime=0))
    print(f"wrote {len(lines)} words to {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
