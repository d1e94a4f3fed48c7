"""Reading a term's postings from Whoosh's segments into numpy arrays.

Whoosh's matchers hand out one posting per Python call; its W3 codec stores
postings in blocks of up to 128, each one pickled tuple of document numbers,
weights and values.  Reading whole blocks (the matcher's block methods, with
Whoosh pinned to one version) costs a few microseconds per block instead of
a microsecond per posting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.util.numeric import byte_to_length

#: Bits of a position in a position key ``document << POS_BITS | position``.
POS_BITS = 20
POS_MASK = (1 << POS_BITS) - 1

EMPTY_I = np.zeros(0, dtype=np.int64)
EMPTY_F = np.zeros(0, dtype=np.float32)
_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


def read_postings(reader: Any, fieldname: str, text: str,
                  positions: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(documents, weights, position keys or None) of a term, over all segments.

    Deleted documents are included: callers mask them out.  Position keys
    need a field whose values are raw uint32 positions
    (:class:`thb_search.schema.PositionArray`).
    """
    btext = text.encode("utf-8")
    docs, weights, keys = [], [], []
    for segment, offset in reader.leaf_readers():
        if (fieldname, btext) not in segment:
            continue
        fmt = segment.schema[fieldname].format
        m = segment._terms.matcher(fieldname, btext, fmt)
        while m.is_active():
            m._read_ids()
            m._read_weights()
            ids = np.asarray(m._ids, dtype=np.int64) + offset
            docs.append(ids)
            weights.append(np.asarray(m._weights, dtype=np.float32))
            if positions:
                m._read_values()
                values = m._values
                counts = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) >> 2
                pos = np.frombuffer(b"".join(values), dtype=np.uint32).astype(np.int64)
                keys.append((np.repeat(ids, counts) << POS_BITS) | pos)
            m._next_block()
    if not docs:
        return EMPTY_I, EMPTY_F, (EMPTY_I if positions else None)
    return (np.concatenate(docs), np.concatenate(weights),
            np.concatenate(keys) if positions else None)


def read_lengths(reader: Any, fieldname: str) -> np.ndarray:
    """Every document's length of ``fieldname`` (as Whoosh stores it: one byte,
    decoded), over all segments."""
    parts = []
    for segment, _ in reader.leaf_readers():
        column = segment._perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN)
        count = segment.doc_count_all()
        if column is None:
            parts.append(np.zeros(count, dtype=np.float32))
        else:
            parts.append(_LENGTHS[np.fromiter(column, dtype=np.uint8, count=count)])
    return np.concatenate(parts) if parts else EMPTY_F
