#!/usr/bin/env python3
"""A deterministic synthetic catalogue of THB publications, as JSON Lines.

    python benchmarks/generate.py --size 10k --out benchmarks/data/catalogue-10k.jsonl

Each record has the fields of a thb-search JSON Lines record: ``id``,
``title`` (6-14 words), ``date`` (YYYY-MM-DD, over 25 years, more recent years
more often), ``type`` (one of 12), ``office`` (one of 40, some records two),
``themes`` (1-3 of 15), ``publisher`` and ``summary`` (60-120 words in
sentences).

Text is drawn from a Zipf-distributed vocabulary of about 40,000 word types:
English function words at the head, a THB vocabulary (trafficking, victims,
exploitation, ODIHR, gender-sensitive, ...) spread over the frequent and
middle ranks, and synthesised pseudo-words (shorter ones more frequent) for
the rest; multi-word THB phrases ("forced labour", "national referral
mechanisms") are mixed in so that phrase queries have something to find.

The output depends only on the seed: records come from one random stream, so
a smaller catalogue is a prefix of a bigger one with the same seed (the query
mix of ``queries.py`` relies on this).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

DEFAULT_SEED = 42
#: Number of word types of the vocabulary (function words + THB words + pseudo-words).
VOCABULARY_TYPES = 40_000
#: Zipf exponent of the word distribution.
ZIPF_EXPONENT = 1.0
#: Probability that a word slot of a text holds a THB phrase instead.
PHRASE_RATE = 0.05
FIRST_YEAR, YEARS = 2000, 25
PUBLISHER = "Organization for Security and Co-operation in Europe"

FUNCTION_WORDS = (
    "the of and to in a for on with by is as that this are from be its their which it at "
    "an or was has have were been also into these between through such other within more "
    "can all among well about how both while including them those most new two three "
    "where who when over under after across its key will should may"
).split()

#: Single THB words, most frequent first (spread over ranks 20-3000).
THB_WORDS = (
    "trafficking victims human beings exploitation OSCE labour States national "
    "protection prevention report participating anti-trafficking rights forced "
    "persons survivors women children referral mechanisms assistance prosecution "
    "identification criminal justice cooperation co-operation migrants sexual supply "
    "chains ODIHR legislation law enforcement authorities recommendations guidance "
    "training practitioners civil society NGOs gender-sensitive migration border "
    "smuggling recruitment traffickers servitude debt bondage compensation trauma-informed "
    "victim-centred child domestic workers online technology-facilitated demand "
    "procurement due diligence asylum seekers refugees shelters non-punishment "
    "multi-disciplinary partnerships handbook toolkit monitoring data research "
    "prosecutors judges police labour-inspectors investigations financial "
    "money-laundering corruption vulnerability risk indicators screening Roma minors "
    "unaccompanied orphanages begging criminality organ removal marriage pornography "
    "grooming internet platforms hotline helpline reintegration repatriation "
    "residence permits legal aid interpreters cross-border regional Balkans Ukraine "
    "Moldova Central Asia"
).split()

#: Multi-word THB phrases, most frequent first.
THB_PHRASES = tuple(p.split() for p in (
    "trafficking in human beings", "human trafficking", "victims of trafficking",
    "forced labour", "supply chains", "national referral mechanisms",
    "sexual exploitation", "labour exploitation", "human rights", "civil society",
    "law enforcement", "criminal justice", "participating States", "child trafficking",
    "gender-sensitive approaches", "non-punishment principle", "debt bondage",
    "domestic servitude", "online exploitation", "trafficking for forced labour",
    "identification of victims", "access to justice", "due diligence",
    "public procurement", "victim assistance", "anti-trafficking action plan",
    "Special Representative", "OSCE Mission", "technology-facilitated trafficking",
    "labour migration", "multi-agency co-operation", "financial investigations",
    "trauma-informed approach", "forced criminality", "child sexual abuse",
    "trafficking for organ removal", "risk assessment", "early warning",
    "border management", "asylum procedures",
))

OFFICES = (
    "Office of the Special Representative and Co-ordinator for Combating Trafficking "
    "in Human Beings",
    "OSCE Office for Democratic Institutions and Human Rights",
    "OSCE Secretariat",
    "OSCE Mission to Bosnia and Herzegovina",
    "OSCE Mission to Serbia",
    "OSCE Mission to Skopje",
    "OSCE Mission to Montenegro",
    "OSCE Mission in Kosovo",
    "OSCE Presence in Albania",
    "OSCE Mission to Moldova",
    "OSCE Project Co-ordinator in Ukraine (closed)",
    "OSCE Special Monitoring Mission to Ukraine (closed)",
    "OSCE Programme Office in Astana",
    "OSCE Programme Office in Bishkek",
    "OSCE Programme Office in Dushanbe",
    "OSCE Centre in Ashgabat",
    "OSCE Project Co-ordinator in Uzbekistan",
    "OSCE Parliamentary Assembly",
    "OSCE High Commissioner on National Minorities",
    "OSCE Representative on Freedom of the Media",
    "OSCE Office in Yerevan (closed)",
    "OSCE Office in Baku (closed)",
    "OSCE Office in Tajikistan (closed)",
    "OSCE Mission to Croatia (closed)",
    "OSCE Mission to Georgia (closed)",
    "OSCE Centre in Bishkek (closed)",
    "OSCE Office in Minsk (closed)",
    "OSCE Transnational Threats Department",
    "OSCE Strategic Police Matters Unit",
    "OSCE Office of the Co-ordinator of Economic and Environmental Activities",
    "OSCE Gender Section",
    "OSCE Border Management Staff College",
    "OSCE Academy in Bishkek",
    "OSCE Chairmanship",
    "OSCE Permanent Council",
    "OSCE Ministerial Council",
    "OSCE Conflict Prevention Centre",
    "OSCE Documentation Centre in Prague",
    "OSCE Mission to Serbia and Montenegro (closed)",
    "OSCE Spillover Monitor Mission to Skopje (closed)",
)

TYPES = (
    "Study / report", "Guide / manual / handbook", "Brochure", "Factsheet",
    "Training material", "Speech / statement", "Conference document", "Newsletter",
    "Poster", "Legal review", "Annual report", "Infographic",
)

THEMES = (
    "Combating trafficking in human beings", "Human rights", "Rule of law",
    "Gender equality", "Migration", "Policing", "Democratization", "Good governance",
    "Education", "Tolerance and non-discrimination", "Border management",
    "Economic activities", "Media freedom and development", "Youth", "Cybersecurity",
)

_ONSETS = ("", "b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "kr",
           "l", "m", "n", "p", "pl", "pr", "r", "s", "sh", "sk", "st", "t", "tr", "v", "z")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou", "io", "y")
_CODAS = ("", "", "", "n", "r", "s", "l", "m", "t", "nd", "st", "x", "rk")


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Word types by rank (most frequent first) and their Zipf cumulative weights."""

    words: tuple[str, ...]
    cum_weights: tuple[float, ...]
    rank: dict[str, int]  # word -> rank, 0 the most frequent

    def draw(self, rng: random.Random, k: int) -> list[str]:
        """``k`` words drawn independently by their Zipf weights."""
        return rng.choices(self.words, cum_weights=self.cum_weights, k=k)


def parse_size(text: str) -> int:
    """``'10k'`` -> 10000, ``'1M'`` -> 1000000, ``'2500'`` -> 2500."""
    value = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(value[-1:], 1)
    number = value[:-1] if factor > 1 else value
    try:
        size = int(float(number) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: e.g. 10k, 100k, 1M") from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: must be at least 1")
    return size


def _pseudo_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """``count`` distinct pronounceable non-words of 4+ letters, shorter ones first."""
    words: set[str] = set()
    while len(words) < count:
        syllables = rng.choice((2, 2, 3, 3, 3, 4))
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                       for _ in range(syllables))
        if len(word) >= 4 and word not in taken:
            words.add(word)
    # Zipf's law of abbreviation: frequent words tend to be short.
    return sorted(sorted(words), key=lambda w: len(w) + 4 * rng.random())


@lru_cache(maxsize=4)
def build_vocabulary(seed: int = DEFAULT_SEED, types: int = VOCABULARY_TYPES) -> Vocabulary:
    """The seeded vocabulary: function words first, THB words placed at
    geometrically spaced ranks from 20 to 3000, pseudo-words everywhere else."""
    rng = random.Random(f"vocabulary-{seed}")
    function = list(dict.fromkeys(FUNCTION_WORDS))
    thb = [w for w in dict.fromkeys(THB_WORDS) if w not in function]
    taken = {w.lower() for w in function + thb}
    base = iter(function + _pseudo_words(rng, types - len(function) - len(thb), taken))
    targets = iter(20 * 150 ** (i / (len(thb) - 1)) for i in range(len(thb)))
    thb_iter = iter(thb)
    target = next(targets)
    words: list[str] = []
    while len(words) < types:
        if len(words) >= target:
            words.append(next(thb_iter))
            target = next(targets, float("inf"))
        else:
            words.append(next(base))
    cum = tuple(accumulate(1.0 / (r + 1) ** ZIPF_EXPONENT for r in range(types)))
    return Vocabulary(tuple(words), cum, {w: r for r, w in enumerate(words)})


def _weights(n: int, exponent: float) -> list[float]:
    return [1.0 / (r + 1) ** exponent for r in range(n)]


_OFFICE_WEIGHTS = _weights(len(OFFICES), 0.9)
_TYPE_WEIGHTS = _weights(len(TYPES), 0.8)
_THEME_WEIGHTS = _weights(len(THEMES), 1.1)
_PHRASE_WEIGHTS = _weights(len(THB_PHRASES), 0.8)
_YEAR_WEIGHTS = [1.0 + 0.08 * i for i in range(YEARS)]


def _words(rng: random.Random, vocabulary: Vocabulary, k: int) -> list[str]:
    """``k`` words of running text: vocabulary draws with THB phrases mixed in."""
    words = vocabulary.draw(rng, k)
    phrases = min(k, int(k * PHRASE_RATE * 2 * rng.random() + 0.5))
    for pos in sorted(rng.sample(range(k), phrases), reverse=True):
        words[pos:pos + 1] = rng.choices(THB_PHRASES, weights=_PHRASE_WEIGHTS)[0]
    return words[:k]


def _capitalized(word: str) -> str:
    return word[:1].upper() + word[1:]


def _title(rng: random.Random, vocabulary: Vocabulary) -> str:
    words = _words(rng, vocabulary, rng.randint(6, 14))
    small = set(FUNCTION_WORDS)
    return " ".join(w if (i and w in small) else _capitalized(w) for i, w in enumerate(words))


def _summary(rng: random.Random, vocabulary: Vocabulary) -> str:
    words = _words(rng, vocabulary, rng.randint(60, 120))
    sentences, start = [], 0
    while start < len(words):
        end = min(len(words), start + rng.randint(8, 24))
        if len(words) - end < 5:  # no stub sentence at the end
            end = len(words)
        part = [w + "," if rng.random() < 0.04 else w for w in words[start:end]]
        part[-1] = part[-1].rstrip(",")
        sentences.append(_capitalized(" ".join(part)) + ".")
        start = end
    return " ".join(sentences)


def _date(rng: random.Random) -> str:
    year = FIRST_YEAR + rng.choices(range(YEARS), weights=_YEAR_WEIGHTS)[0]
    day = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
    return day.isoformat()


def _facets(rng: random.Random) -> tuple[list[str], str, list[str]]:
    offices = rng.choices(OFFICES, weights=_OFFICE_WEIGHTS, k=2 if rng.random() < 0.15 else 1)
    themes = [THEMES[0]] if rng.random() < 0.7 else []
    wanted = rng.choices((1, 2, 3), weights=(0.5, 0.35, 0.15))[0]
    while len(themes) < wanted:
        themes.append(rng.choices(THEMES, weights=_THEME_WEIGHTS)[0])
    return (list(dict.fromkeys(offices)), rng.choices(TYPES, weights=_TYPE_WEIGHTS)[0],
            list(dict.fromkeys(themes)))


def generate_records(count: int, seed: int = DEFAULT_SEED) -> Iterator[dict[str, object]]:
    """The first ``count`` records of the catalogue of ``seed``."""
    vocabulary = build_vocabulary(seed)
    rng = random.Random(f"records-{seed}")
    for n in range(count):
        offices, type_, themes = _facets(rng)
        yield {
            "id": f"syn-{n:07d}",
            "title": _title(rng, vocabulary),
            "date": _date(rng),
            "type": type_,
            "office": offices,
            "themes": themes,
            "publisher": PUBLISHER if rng.random() < 0.9 else offices[0],
            "summary": _summary(rng, vocabulary),
        }


def write_jsonl(records: Iterator[dict[str, object]], path: Path) -> int:
    """Write records one JSON object a line (atomically); return how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, required=True,
                        help="number of records: 10k, 100k, 1M or a plain number")
    parser.add_argument("--out", type=Path, required=True, help="JSON Lines file to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    n = write_jsonl(generate_records(args.size, args.seed), args.out)
    print(f"wrote {n} records to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
