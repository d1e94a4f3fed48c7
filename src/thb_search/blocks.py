"""The bytes of a block of postings, as thb-search's codec stores them.

Whoosh's W3 codec pickles each block of up to 128 postings as a tuple of
Python objects: a position list costs about 20 bytes of pickle framing
besides its own bytes (pickle protocol 2 turns each ``bytes`` into a call of
``_codecs.encode``), a weight 9 bytes, a document number 2 to 5.  That made
a posting of the ranking field 36 bytes on average at 100,000 records, for
about 6 bytes of information.  Here a block is a few numpy arrays, each of
the narrowest unsigned width its values fit:

* a 2-byte layout (below);
* document numbers as the ``n - 1`` gaps between them (the block's last
  document number is in the block's header, so a one-posting block stores
  no number at all);
* weights: nothing when all are 1.0, else whichever is smallest of one
  float32 for all, one uint8 or uint16 each (whole-number weights, which is
  what term frequencies are) or one float32 each;
* values, by kind (:data:`POSITIONS`, a fixed size, or variable):
  positions as a count per posting (nothing when every count is 1) and the
  positions themselves, uint16 when the block's largest fits; else (a
  document's body) each posting's first position as uint32 and the gaps
  after it as uint8 or uint16 when they fit, else uint32 positions;
  fixed-size values concatenated (one value when all are equal); other
  values as their lengths (uint32) and their concatenated bytes.

Decoding is a handful of ``numpy.frombuffer`` calls per block, without a
Python step per posting.  Every weight and value decodes to exactly what
was encoded (weights as float32, which is how Whoosh holds them in a block).
This module knows nothing of Whoosh; :mod:`thb_search.whoosh_internals`
puts these blocks into Whoosh's postings files.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, NamedTuple

import numpy as np

from .dataclass import dataclass

#: The value kind of positional fields: each value is the raw uint32 positions
#: of one posting (:class:`thb_search.schema.PositionArray`).
POSITIONS = "positions"
#: The value kind of formats whose values differ in size (other than positions).
VARIABLE = "variable"

# Widths: code -> dtype (little-endian, unsigned).
_UINT = (np.dtype("<u1"), np.dtype("<u2"), np.dtype("<u4"))
_U32 = np.dtype("<u4")
_F32 = np.dtype("<f4")
#: The same widths as the standard library's array codes.
_CODES = ("B", "H", "I")
_SWAP = sys.byteorder == "big"
assert array("I").itemsize == 4 and array("f").itemsize == 4

# Weight codes.
_W_ONE, _W_SAME, _W_U8, _W_U16, _W_F32 = range(5)
# Value codes.
_V_NONE, _V_FIXED, _V_VARIABLE, _V_POSITIONS = range(4)


def _width(top: int) -> int:
    """The code of the narrowest unsigned width that holds ``top``."""
    return 0 if top < 0x100 else 1 if top < 0x10000 else 2


@dataclass(frozen=True)
class Block:
    """A decoded block: document numbers, weights and the values' parts.

    ``counts``/``positions`` for :data:`POSITIONS`; ``blob`` (and ``lengths``
    for :data:`VARIABLE`) for other values; ``None`` where a block has none.
    """

    ids: np.ndarray  # int64, ascending
    weights: np.ndarray  # float32
    counts: np.ndarray | None = None  # int64: positions of each posting
    positions: np.ndarray | None = None  # int64, posting after posting
    lengths: np.ndarray | None = None  # int64: bytes of each value (VARIABLE)
    blob: bytes | None = None  # the values' bytes (fixed size or VARIABLE)

    def values(self, size: int | str | None) -> tuple[bytes | None, ...]:
        """Each posting's value as the field's format encodes it (uint32
        positions; the fixed-size or variable bytes), for Whoosh's matchers."""
        n = len(self.ids)
        if self.counts is not None and self.positions is not None:
            raw = self.positions.astype(np.uint32).tobytes()
            ends = np.concatenate(([0], np.cumsum(self.counts) * 4)).tolist()
            return tuple(raw[ends[i]:ends[i + 1]] for i in range(n))
        if self.blob is None:
            return (None,) * n
        if self.lengths is not None:
            ends = np.concatenate(([0], np.cumsum(self.lengths))).tolist()
            return tuple(self.blob[ends[i]:ends[i + 1]] for i in range(n))
        assert isinstance(size, int) and size > 0
        if len(self.blob) == size:  # one value for all
            return (self.blob,) * n
        return tuple(self.blob[i:i + size] for i in range(0, n * size, size))


def encode(ids: Sequence[int], weights: Sequence[float], values: Sequence[bytes],
           kind: int | str, lengths: Sequence[int] | None = None) -> bytes:
    """The bytes of a block (its last document number, ``ids[-1]``, is kept
    by the caller: :func:`decode` needs it back).

    ``kind`` is :data:`POSITIONS`, :data:`VARIABLE` or the values' fixed size
    in bytes (0: the format has no values; ``values`` is then ignored).
    With ``lengths`` (positions only), ``values`` is the postings' values
    one after another, ``lengths`` the bytes of each (a pool's term, without
    a bytes object a posting).
    Written with the standard library's arrays: most blocks hold a few
    postings, where numpy's per-call cost would dominate.
    """
    n = len(ids)
    if n == 0:
        raise ValueError("a block holds at least one posting")
    if len(weights) != n:
        raise ValueError("a block needs one weight per posting")
    parts: list[bytes] = []
    # Document numbers: the gaps.
    idw = 0
    if n > 1:
        gaps = [b - a for a, b in zip(ids, ids[1:], strict=False)]
        if min(gaps) <= 0:
            raise ValueError("document numbers of a block must increase")
        idw = _width(max(gaps))
        parts.append(_pack(_CODES[idw], gaps))
    # Weights, as float32 (as Whoosh's writer holds them).
    w = weights if isinstance(weights, array) and weights.typecode == "f" else array("f", weights)
    wcode, wbytes = _encode_weights(w)
    parts.append(wbytes)
    # Values.
    vcode = flags = 0
    if kind == POSITIONS:
        vcode = _V_POSITIONS
        if lengths is None:
            flags, vbytes = _encode_positions([len(v) for v in values], b"".join(values))
        else:
            flags, vbytes = _encode_positions(lengths, values)
        parts.append(vbytes)
    elif kind == VARIABLE:
        vcode = _V_VARIABLE
        parts.append(_pack("I", [len(v) for v in values]))
        parts.append(b"".join(values))
    elif kind:
        assert isinstance(kind, int)
        vcode = _V_FIXED
        if any(len(v) != kind for v in values):
            raise ValueError(f"values of a fixed-size format must be {kind} bytes")
        first = values[0]
        if all(v == first for v in values):
            flags = 1
            parts.append(bytes(first))
        else:
            parts.append(b"".join(values))
    return bytes((idw | wcode << 2, vcode | flags << 2)) + b"".join(parts)


class TermBlocks(NamedTuple):
    """Blocks encoded at once (:func:`encode_blocks`: a term's several, or
    many terms' one each): each one's bytes, postings, last document number,
    largest weight and shortest and longest field length of its documents
    (None, 0 without lengths)."""

    data: list[bytes]
    counts: list[int]
    last_ids: list[int]
    top_weights: list[float]
    min_lengths: list[int | None]
    max_lengths: list[int]


def encode_blocks(docs: array, weights: array, lengths: array, values: Any,
                  starts: list[int], doc_lengths: np.ndarray | None) -> TermBlocks | None:
    """:func:`encode`'s bytes of each block of :data:`POSITIONS` postings
    (documents, float32 weights, each posting's bytes of positions, the
    positions one after another, as a pool holds a term's), a block starting
    at each of ``starts`` (the first 0), with the statistics of each block
    its header and its term's information need (``doc_lengths``: each
    document's field length, if the field has them).  Postings are looked at
    with numpy many blocks at a time: the blocks of a long term (a common
    word: 3,079 terms of 2,167,749 postings in a 50,000-record segment) in
    41 µs a block instead of 100, or many short terms of one block each (a
    block's documents need only increase within it).  None when a block
    needs :func:`encode`'s checks (document numbers not increasing, weights
    not finite, positions not whole uint32 values)."""
    n = len(docs)
    ids = np.frombuffer(docs, dtype=np.uint32).astype(np.int64)
    w = np.frombuffer(weights, dtype=np.float32)
    value_bytes = np.frombuffer(lengths, dtype=np.uint32).astype(np.int64)
    if (n < 2 or not np.isfinite(w).all() or (value_bytes & 3).any()
            or len(values) != int(value_bytes.sum())):
        return None
    ends = [*starts[1:], n]
    gaps = np.diff(ids)
    inner = np.ones(len(gaps), dtype=bool)
    inner[np.asarray(ends[:-1], dtype=np.int64) - 1] = False  # (from one block to the next)
    if len(gaps) and (gaps[inner] <= 0).any():
        return None
    at = np.asarray(starts)
    # Each block's widest gap (a block of one posting has none: 0).
    gap_top = np.zeros(len(starts), dtype=np.int64)
    masked = np.where(inner, gaps, 0)
    if len(masked):
        gap_top = np.maximum.reduceat(np.append(masked, 0), at)
    # Weights: all 1.0, all equal, whole numbers (and the largest), per block.
    top = np.maximum.reduceat(w, at)
    low = np.minimum.reduceat(w, at)
    ones = np.add.reduceat((w == 1.0).astype(np.int64), at)
    same = np.add.reduceat((w == np.repeat(w[at], np.diff([*starts, n]))).astype(np.int64), at)
    whole = np.add.reduceat((w == np.floor(w)).astype(np.int64), at)
    # Positions: counts, and the largest position of each block.
    counts = value_bytes >> 2
    count_top = np.maximum.reduceat(counts, at)
    count_ones = np.add.reduceat((counts == 1).astype(np.int64), at)
    pos = np.frombuffer(values, dtype=np.uint32)
    pos_ends = np.concatenate(([0], np.cumsum(counts)))
    pos_at = pos_ends[at]
    pos_end = pos_ends[[*ends]]
    filled = pos_end > pos_at
    if filled.all():
        pos_top = np.maximum.reduceat(pos, pos_at).astype(np.int64)
    else:  # (a block of postings without positions: none in practice)
        pos_top = np.zeros(len(starts), dtype=np.int64)
        pos_top[filled] = [int(pos[a:e].max()) for a, e in zip(
            pos_at[filled].tolist(), pos_end[filled].tolist(), strict=True)]
    if doc_lengths is not None:
        field = doc_lengths[ids]
        max_lengths = np.maximum.reduceat(field, at).tolist()
        big = np.iinfo(np.int64).max
        min_raw = np.minimum.reduceat(np.where(field > 0, field, big), at).tolist()
        min_lengths: list[int | None] = [None if m == big else m for m in min_raw]
    else:
        max_lengths = [0] * len(starts)
        min_lengths = [None] * len(starts)
    gap_bytes = {}
    w_f32 = w.astype(_F32)
    data: list[bytes] = []
    for start, end, gtop, wtop, wlow, one, eq, integral, ctop, cone, ptop, p0, p1 in zip(
            starts, ends, gap_top.tolist(), top.tolist(), low.tolist(), ones.tolist(),
            same.tolist(), whole.tolist(), count_top.tolist(), count_ones.tolist(),
            pos_top.tolist(), pos_at.tolist(), pos_end.tolist(), strict=True):
        size = end - start
        if ptop >= 0x10000:  # a long text's positions: encode's other steps
            data.append(encode(docs[start:end], weights[start:end],
                               values[p0 * 4:p1 * 4], POSITIONS, lengths[start:end]))
            continue
        parts = []
        idw = 0
        if size > 1:
            idw = _width(gtop)
            g = gap_bytes.get(idw)
            if g is None:
                g = gap_bytes[idw] = gaps.astype(_UINT[idw])
            parts.append(g[start:end - 1].tobytes())
        # (encode's choice: the smallest option, the first of equal ones)
        if one == size:
            wcode = _W_ONE
        else:
            wcode, wsize = _W_F32, 4 * size
            if integral == size and wlow >= 0:
                if wtop < 0x100:
                    wcode, wsize = _W_U8, size
                elif wtop < 0x10000:
                    wcode, wsize = _W_U16, 2 * size
            if eq == size and 4 <= wsize:
                wcode = _W_SAME
            if wcode == _W_SAME:
                parts.append(w_f32[start:start + 1].tobytes())
            elif wcode == _W_F32:
                parts.append(w_f32[start:end].tobytes())
            else:
                parts.append(w[start:end].astype(_UINT[wcode - _W_U8]).tobytes())
        ccode = 0
        if cone != size:
            ccode = 1 + _width(ctop)
            parts.append(counts[start:end].astype(_UINT[ccode - 1]).tobytes())
        parts.append(pos[p0:p1].astype(_UINT[1]).tobytes())
        data.append(bytes((idw | wcode << 2, _V_POSITIONS | ccode << 3)) + b"".join(parts))
    return TermBlocks(data, [e - s for s, e in zip(starts, ends, strict=True)],
                      ids[np.asarray(ends) - 1].tolist(), top.tolist(), min_lengths, max_lengths)


class EncodedTerms(NamedTuple):
    """Terms' blocks encoded at once (:func:`encode_terms`): block ``k``
    takes ``data[starts[k]:starts[k + 1]]``, the ``room`` bytes asked for
    (the caller's header) then :func:`encode`'s bytes; each block's largest
    weight and the sum of its weights (float64, exact)."""

    data: np.ndarray  # uint8
    starts: np.ndarray  # int64, one more than the blocks
    top_weights: np.ndarray  # float32
    total_weights: np.ndarray  # float64


#: Weights :func:`encode_terms` takes: whole numbers up to this (a block's
#: sum is then exact, whatever the order it is summed in).
WHOLE_WEIGHTS_MAX = 1 << 24


def encode_terms(bounds: np.ndarray, ids: np.ndarray, weights: np.ndarray, counts: np.ndarray,
                 positions: np.ndarray, room: int) -> EncodedTerms | None:
    """:func:`encode`'s bytes of many terms' :data:`POSITIONS` postings, one
    block a term, with numpy over all of them rather than a Python step a
    term: term ``k`` has postings ``bounds[k]`` to ``bounds[k + 1]`` of
    ``ids`` (document numbers, increasing within a term), ``weights``
    (float32) and ``counts`` (positions of each posting), and its positions
    are the next ones of ``positions``, one posting's after another.  An
    add's document of 100 pages has some 10,000 terms, each of one posting.

    None (the caller encodes a term at a time) when a term has no postings,
    its document numbers do not increase, a weight is not a whole number from
    0 to :data:`WHOLE_WEIGHTS_MAX` or a posting has no positions."""
    nterms = len(bounds) - 1
    bounds = np.asarray(bounds, dtype=np.int64)
    n = np.diff(bounds)
    npost = len(ids)
    counts = np.asarray(counts, dtype=np.int64)
    if (not nterms or (n <= 0).any() or bounds[0] != 0 or bounds[-1] != npost
            or len(weights) != npost or len(counts) != npost or (counts <= 0).any()
            or int(counts.sum()) != len(positions)):
        return None
    w = np.asarray(weights, dtype=_F32)
    wide_w = w.astype(np.float64)
    if not (np.isfinite(wide_w).all() and (wide_w >= 0).all()
            and (wide_w == np.floor(wide_w)).all() and (wide_w <= WHOLE_WEIGHTS_MAX).all()):
        return None
    ids = np.asarray(ids, dtype=np.int64)
    first = bounds[:-1]
    rank = np.arange(npost) - np.repeat(first, n)  # each posting's, within its term
    inner = rank > 0
    gaps = np.diff(ids, prepend=0)
    if (gaps[inner] <= 0).any():
        return None
    sizes = np.array(_SIZES, dtype=np.int64)
    # Document numbers: the gaps, at the narrowest width each block's fit.
    idw = _widths(np.maximum.reduceat(np.where(inner, gaps, 0), first))
    gap_bytes = (n - 1) * sizes[idw]
    # Weights: encode's choice, the smallest option, the first of equal ones
    # (all 1.0; one float32 for all; uint8 or uint16 each; float32 each).
    top = np.maximum.reduceat(w, first)
    ones = np.add.reduceat((w == 1.0).astype(np.int64), first) == n
    same = np.add.reduceat((w == np.repeat(w[first], n)).astype(np.int64), first) == n
    int_size = np.where(top < 0x100, n, np.where(top < 0x10000, 2 * n, 8 * n))
    wcode = np.where(ones, _W_ONE, np.where(
        same & (int_size >= 4), _W_SAME, np.where(
            int_size <= 4 * n, np.where(top < 0x100, _W_U8, _W_U16), _W_F32)))
    wsize = np.select([wcode == _W_ONE, wcode == _W_SAME, wcode == _W_U8, wcode == _W_U16],
                      [0, 4, n, 2 * n], 4 * n)
    # Counts: none when every posting has one position.
    many = np.add.reduceat((counts != 1).astype(np.int64), first) > 0
    ccode = np.where(many, 1 + _widths(np.maximum.reduceat(counts, first)), 0)
    csize = np.where(many, n * sizes[np.maximum(ccode - 1, 0)], 0)
    # Positions: uint16 when the block's largest fits; else each posting's
    # first as uint32 and the gaps after it as uint8 or uint16 when they fit
    # (and increase), else uint32.
    pos = np.asarray(positions, dtype=np.int64)
    pstart = np.cumsum(counts) - counts  # each posting's first position
    tq = pstart[first]  # each term's
    q = np.add.reduceat(counts, first)  # positions of each term
    narrow = np.maximum.reduceat(pos, tq) < 0x10000
    head = np.zeros(len(pos), dtype=bool)
    head[pstart] = True
    pgaps = np.diff(pos, prepend=0)
    rest_low = np.minimum.reduceat(np.where(head, 0, pgaps), tq)
    rest_top = np.maximum.reduceat(np.where(head, 0, pgaps), tq)
    as_gaps = ~narrow & many & (rest_low >= 0) & (rest_top < 0x10000)
    gcode = _widths(rest_top)
    psize = np.where(narrow, 2 * q, np.where(as_gaps, 4 * n + (q - n) * sizes[gcode], 4 * q))
    flags = np.where(narrow, ccode << 1,
                     np.where(as_gaps, 1 | ccode << 1 | 1 << 3 | gcode << 4, 1 | ccode << 1))
    # Where each part of each block goes.
    length = room + 2 + gap_bytes + wsize + csize + psize
    starts = np.concatenate(([0], np.cumsum(length)))
    out = np.zeros(int(starts[-1]), dtype=np.uint8)
    base = starts[:-1] + room
    out[base] = idw | wcode << 2
    out[base + 1] = _V_POSITIONS | flags << 2
    term_of = np.repeat(np.arange(nterms), n)  # each posting's
    at = base + 2  # the document gaps
    for code in (0, 1, 2):
        pick = inner & (idw[term_of] == code)
        _put(out, at[term_of[pick]] + (rank[pick] - 1) * _SIZES[code], gaps[pick], _UINT[code])
    at = at + gap_bytes  # the weights
    same_only = np.flatnonzero(wcode == _W_SAME)
    _put(out, at[same_only], w[first[same_only]], _F32)
    for code, dtype in ((_W_U8, _UINT[0]), (_W_U16, _UINT[1]), (_W_F32, _F32)):
        pick = wcode[term_of] == code
        _put(out, at[term_of[pick]] + rank[pick] * dtype.itemsize, w[pick], dtype)
    at = at + wsize  # the counts
    for code in (1, 2, 3):
        pick = ccode[term_of] == code
        _put(out, at[term_of[pick]] + rank[pick] * _SIZES[code - 1], counts[pick],
             _UINT[code - 1])
    at = at + csize  # the positions
    posting_of = np.repeat(np.arange(npost), counts)  # each position's
    qterm = term_of[posting_of]
    qrank = np.arange(len(pos)) - tq[qterm]  # within its term
    for pick, size in ((narrow[qterm], 2), (~narrow[qterm] & ~as_gaps[qterm], 4)):
        _put(out, at[qterm[pick]] + qrank[pick] * size, pos[pick], _UINT[size >> 1])
    gapped = as_gaps[qterm]
    pick = gapped & head  # each posting's first position
    _put(out, at[qterm[pick]] + rank[posting_of[pick]] * 4, pos[pick], _U32)
    for code in (0, 1):
        pick = gapped & ~head & (gcode[qterm] == code)
        term = qterm[pick]
        # (the positions before it in its term, less its posting's and the
        # earlier postings' first ones)
        rest_rank = qrank[pick] - rank[posting_of[pick]] - 1
        _put(out, at[term] + 4 * n[term] + rest_rank * _SIZES[code], pgaps[pick], _UINT[code])
    return EncodedTerms(out, starts, top, np.add.reduceat(wide_w, first))


def _widths(top: np.ndarray) -> np.ndarray:
    """:func:`_width` of each of ``top``."""
    return np.where(top < 0x100, 0, np.where(top < 0x10000, 1, 2))


def _put(out: np.ndarray, at: np.ndarray, values: np.ndarray, dtype: np.dtype) -> None:
    """Each of ``values`` as ``dtype`` into ``out`` (bytes) from its place in ``at``."""
    if len(at):
        raw = np.ascontiguousarray(values).astype(dtype).view(np.uint8).reshape(len(at), -1)
        out[at[:, None] + np.arange(dtype.itemsize)] = raw


def encode_one(weight: float, value: Any, kind: int | str, length: Sequence[int]) -> bytes:
    """:func:`encode`'s bytes of a one-posting block (a term in one
    document: most of the terms an add writes), without its steps for
    several postings.  ``value``: the posting's value (its positions'
    bytes, ``length`` their size as a one-item sequence)."""
    wcode, wbytes = _one_weight(weight)
    if kind == POSITIONS:
        flags, vbytes = _encode_positions(length, value)
        return bytes((wcode << 2, _V_POSITIONS | flags << 2)) + wbytes + vbytes
    if not kind:
        return bytes((wcode << 2, _V_NONE)) + wbytes
    # (a writer's term with no values' bytes gives encode none: see its _values)
    return encode((0,), array("f", (weight,)), [bytes(value)] if value else [], kind)


def _one_weight(weight: float) -> tuple[int, bytes]:
    """:func:`_encode_weights` of one weight (a float32's value): the
    smallest of its options, the first of equal ones."""
    if weight == 1.0:
        return _W_ONE, b""
    if weight >= 0 and weight.is_integer():
        if weight < 0x100:
            return _W_U8, bytes((int(weight),))
        if weight < 0x10000:
            return _W_U16, _pack("H", (int(weight),))
    # (NaN is not equal to itself: encode finds no weight "the same for all")
    return _W_SAME if weight == weight else _W_F32, _pack("f", (weight,))


def _pack(code: str, numbers: Sequence[int] | array) -> bytes:
    """Little-endian bytes of unsigned ``numbers`` (array ``code``)."""
    a = array(code, numbers)
    if _SWAP:
        a.byteswap()
    return a.tobytes()


def _encode_weights(w: array) -> tuple[int, bytes]:
    # (array.count and map compare in C: a segment's blocks hold millions of weights)
    n = len(w)
    if w.count(1.0) == n:
        return _W_ONE, b""
    first = w[0]
    options = []
    if w.count(first) == n:
        options.append((4, _W_SAME, _pack("f", w[:1])))
    if min(w) >= 0 and all(map(float.is_integer, w)):
        top = max(w)
        if top < 0x100:
            options.append((n, _W_U8, _pack("B", [int(x) for x in w])))
        elif top < 0x10000:
            options.append((2 * n, _W_U16, _pack("H", [int(x) for x in w])))
    options.append((4 * n, _W_F32, _pack("f", w)))
    _, code, data = min(options, key=lambda o: o[0])
    return code, data


def _encode_positions(lengths: Sequence[int], joined: Any) -> tuple[int, bytes]:
    """flags (bit 0: positions wider than 16 bits; bits 1-2: the counts'
    width, 0 when every count is 1; bit 3: wide positions as gaps, bit 4:
    16-bit gaps) and the bytes of counts and positions, of values of
    ``lengths`` bytes ``joined`` one after another."""
    pos = array("I")
    pos.frombytes(joined)  # the format's raw (native) uint32
    parts = []
    ccode = 0
    counts: list[int] | None = None
    if lengths.count(4) != len(lengths):
        if any(length % 4 for length in lengths):
            raise ValueError("positions must be whole uint32 values")
        counts = [length >> 2 for length in lengths]
        ccode = 1 + _width(max(counts))
        parts.append(_pack(_CODES[ccode - 1], counts))
    if not pos or max(pos) < 0x10000:
        parts.append(_pack("H", pos))
        return ccode << 1, b"".join(parts)
    gaps = _position_gaps(pos, counts) if counts is not None else None
    if gaps is not None:
        firsts, rest, code = gaps
        parts += [firsts.astype(_U32).tobytes(), rest.astype(_UINT[code]).tobytes()]
        return 1 | ccode << 1 | 1 << 3 | code << 4, b"".join(parts)
    parts.append(_pack("I", pos))
    return 1 | ccode << 1, b"".join(parts)


def _position_gaps(pos: array, counts: list[int]) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Wide positions as each posting's first position and the gaps after it,
    when the gaps fit 8 or 16 bits and that is smaller than 32-bit positions
    (a document's body: a word recurs within a few thousand words)."""
    c = np.asarray(counts, dtype=np.int64)
    c = c[c > 0]
    if len(c) == len(pos):
        return None
    p = np.frombuffer(pos, dtype=np.uint32).astype(np.int64)
    starts = np.cumsum(c) - c
    gaps = np.diff(p, prepend=0)
    first = np.zeros(len(p), dtype=bool)
    first[starts] = True
    rest = gaps[~first]
    if rest.min() < 0:  # positions out of order: kept as they are
        return None
    code = _width(int(rest.max()))
    if code == 2:
        return None
    return p[first], rest, code


def decode(data: bytes, n: int, last_id: int, size: int | str | None = None) -> Block:
    """The block of ``n`` postings whose bytes are ``data`` and whose last
    document number is ``last_id``; ``size``: the values' fixed size (needed
    only for fixed-size values)."""
    idw, wcode = data[0] & 3, data[0] >> 2
    vcode, flags = data[1] & 3, data[1] >> 2
    at = 2
    # Document numbers.
    ids = np.empty(n, dtype=np.int64)
    ids[-1] = last_id
    if n > 1:
        gaps = np.frombuffer(data, dtype=_UINT[idw], count=n - 1, offset=at)
        at += gaps.nbytes
        ids[:-1] = last_id - np.cumsum(gaps[::-1].astype(np.int64))[::-1]
    # Weights.
    if wcode == _W_ONE:
        weights = np.ones(n, dtype=np.float32)
    elif wcode == _W_SAME:
        weights = np.full(n, np.frombuffer(data, dtype=_F32, count=1, offset=at)[0])
        at += 4
    else:
        dtype = (_UINT[0], _UINT[1], _F32)[wcode - _W_U8]
        weights = np.frombuffer(data, dtype=dtype, count=n, offset=at).astype(np.float32)
        at += n * dtype.itemsize
    # Values.
    if vcode == _V_POSITIONS:
        wide, ccode, as_gaps, gap_width = flags & 1, flags >> 1 & 3, flags >> 3 & 1, flags >> 4
        if ccode:
            cdtype = _UINT[ccode - 1]
            counts = np.frombuffer(data, dtype=cdtype, count=n, offset=at).astype(np.int64)
            at += n * cdtype.itemsize
        else:
            counts = np.ones(n, dtype=np.int64)
        total = int(counts.sum())
        if as_gaps:
            positions = _decode_gaps(data, at, counts, total, _UINT[gap_width])
        else:
            positions = np.frombuffer(data, dtype=_UINT[1 + wide], count=total,
                                      offset=at).astype(np.int64)
        return Block(ids, weights, counts=counts, positions=positions)
    if vcode == _V_VARIABLE:
        lengths = np.frombuffer(data, dtype=_U32, count=n, offset=at).astype(np.int64)
        at += 4 * n
        return Block(ids, weights, lengths=lengths, blob=bytes(data[at:]))
    if vcode == _V_FIXED:
        return Block(ids, weights, blob=bytes(data[at:]))
    return Block(ids, weights)


class Postings(NamedTuple):
    """Many blocks' postings one after another (:func:`decode_many`)."""

    ids: np.ndarray  # int64, ascending within each block
    weights: np.ndarray  # float32
    counts: np.ndarray | None  # int64: positions of each posting (None: not asked for)
    positions: np.ndarray | None  # int64, posting after posting


#: Bytes of each width code.
_SIZES = (1, 2, 4)


class _Runs:
    """One part (document gaps, weights, ...) of many blocks: its bytes, by
    width, and where in the joined arrays each block's values go."""

    __slots__ = ("by_code",)

    def __init__(self) -> None:
        self.by_code: dict[int, tuple[list[bytes], list[int], list[int]]] = {}

    def add(self, code: int, piece: bytes, dest: int, count: int) -> None:
        run = self.by_code.get(code)
        if run is None:
            run = self.by_code[code] = ([], [], [])
        run[0].append(piece)
        run[1].append(dest)
        run[2].append(count)

    def whole(self, dtypes: Sequence[np.dtype], size: int) -> np.ndarray | None:
        """All ``size`` values decoded at once, when the blocks have this part
        in one width and their runs fill every place (else None): no array to
        fill (a catalogue term's positions: every block's 16-bit)."""
        if len(self.by_code) == 1:
            [(code, (pieces, _, counts))] = self.by_code.items()
            if sum(counts) == size:
                return np.frombuffer(b"".join(pieces), dtype=dtypes[code])
        return None

    def into(self, out: np.ndarray, dtypes: Sequence[np.dtype]) -> None:
        """Decode each width's bytes at once, into their places in ``out``."""
        for code, (pieces, dests, counts) in self.by_code.items():
            _scatter(out, np.frombuffer(b"".join(pieces), dtype=dtypes[code]), dests, counts)


def _run_places(starts: Sequence[int], counts: Sequence[int]) -> np.ndarray:
    """The places of runs of ``counts`` places from ``starts``, one run after another."""
    c = np.array(counts, dtype=np.int64)
    shift = np.array(starts, dtype=np.int64) - (np.cumsum(c) - c)
    return np.arange(int(c.sum())) + np.repeat(shift, c)


def _scatter(out: np.ndarray, values: np.ndarray, dests: Sequence[int],
             counts: Sequence[int]) -> None:
    """``values``, runs of ``counts`` one after another, into ``out`` at ``dests``."""
    if len(values) == len(out):  # one run of places covers all
        out[:] = values
    elif len(dests) == 1:
        out[dests[0]:dests[0] + counts[0]] = values
    elif len(values):
        out[_run_places(dests, counts)] = values


def _gathered(source: np.ndarray, starts: Sequence[int], counts: Sequence[int]) -> np.ndarray:
    """Runs of ``counts`` values of ``source`` from ``starts``, one after another."""
    if len(starts) == 1:
        return source[starts[0]:starts[0] + counts[0]]
    return source[_run_places(starts, counts)]


def decode_many(data: bytes, spans: Sequence[tuple[int, int, int, int]],
                positions: bool = False) -> Postings:
    """The postings of many blocks (a term's), decoded at once: what
    :func:`decode` gives block by block, concatenated, in a few numpy calls
    per kind of block instead of a dozen per block.

    ``spans``: each block's (start, end) in ``data``, its number of postings
    and its last document number.  With ``positions`` (blocks of
    :data:`POSITIONS` only), each posting's count of positions and the
    positions too; other values are not decoded.
    """
    if not spans:
        none = np.zeros(0, dtype=np.int64)
        return Postings(none, np.zeros(0, dtype=np.float32), none if positions else None,
                        none if positions else None)
    gaps, weights, same, counts = _Runs(), _Runs(), _Runs(), _Runs()
    plain, rests = _Runs(), _Runs()
    firsts: list[bytes] = []
    # Blocks of gapped positions: (first posting, postings, first position, positions).
    gapped: list[tuple[int, int, int, int]] = []
    lasts: list[int] = []
    sizes: list[int] = []
    n_all = p_all = r_all = 0
    for start, end, n, last_id in spans:
        head, values = data[start], data[start + 1]
        idw, wcode = head & 3, head >> 2
        at = start + 2
        if n > 1:
            stop = at + (n - 1) * _SIZES[idw]
            gaps.add(idw, data[at:stop], n_all, n - 1)
            at = stop
        if wcode == _W_SAME:
            same.add(0, data[at:at + 4], n_all, n)
            at += 4
        elif wcode != _W_ONE:
            stop = at + n * _SIZES[wcode - _W_U8]
            weights.add(wcode - _W_U8, data[at:stop], n_all, n)
            at = stop
        lasts.append(last_id)
        sizes.append(n)
        if positions:
            vcode, flags = values & 3, values >> 2
            if vcode != _V_POSITIONS:
                raise ValueError("not a block of positions")
            wide, ccode, as_gaps, gap_width = flags & 1, flags >> 1 & 3, flags >> 3 & 1, flags >> 4
            if ccode:
                stop = at + n * _SIZES[ccode - 1]
                piece = data[at:stop]
                counts.add(ccode - 1, piece, n_all, n)
                at = stop
            if as_gaps:  # (only with counts)
                each = array(_CODES[ccode - 1], piece)
                if _SWAP:
                    each.byteswap()
                present, total = n - each.count(0), sum(each)
                firsts.append(data[at:at + 4 * present])
                at += 4 * present
                rests.add(gap_width, data[at:end], r_all, total - present)
                gapped.append((n_all, n, p_all, total))
                r_all += total - present
            else:
                total = (end - at) >> (1 + wide)
                plain.add(wide, data[at:end], p_all, total)
            p_all += total
        n_all += n
    # Document numbers: each block's last, less the gaps after each one.
    steps = np.zeros(n_all, dtype=np.int64)
    gaps.into(steps, _UINT)
    after = np.cumsum(steps[::-1])[::-1]  # the gaps from each posting on
    last_at = np.cumsum(sizes) - 1
    ids = np.repeat(np.array(lasts, dtype=np.int64) + after[last_at], sizes) - after
    w = np.ones(n_all, dtype=np.float32)
    weights.into(w, (_UINT[0], _UINT[1], _F32))
    for pieces, dests, ns in same.by_code.values():
        _scatter(w, np.repeat(np.frombuffer(b"".join(pieces), dtype=_F32), ns), dests, ns)
    if not positions:
        return Postings(ids, w, None, None)
    c = np.ones(n_all, dtype=np.int64)
    counts.into(c, _UINT)
    whole = None if gapped else plain.whole(_UINT[1:], p_all)
    if whole is not None:  # (most terms: every block's positions in one width)
        pos = whole.astype(np.int64)
    else:
        pos = np.empty(p_all, dtype=np.int64)
        plain.into(pos, _UINT[1:])
    if gapped:  # a document body's positions, as gaps (searches decode those block by block)
        g_counts = _gathered(c, [g[0] for g in gapped], [g[1] for g in gapped])
        rest = np.empty(r_all, dtype=np.int64)
        rests.into(rest, _UINT)
        first = np.frombuffer(b"".join(firsts), dtype=_U32).astype(np.int64)
        _scatter(pos, _from_gaps(first, rest, g_counts, int(g_counts.sum())),
                 [g[2] for g in gapped], [g[3] for g in gapped])
    if int(c.sum()) != p_all:
        raise ValueError("the blocks' counts of positions do not match their positions")
    return Postings(ids, w, c, pos)


def wide_positions(data: bytes, spans: Sequence[tuple[int, int, int, int]]) -> bool:
    """Whether any of the blocks at ``spans`` in ``data`` (as :func:`decode_many`
    takes them) holds positions beyond 16 bits (a document body's)."""
    return any(data[start + 1] & 3 == _V_POSITIONS and data[start + 1] >> 2 & 1
               for start, _, _, _ in spans)


def decode_postings(data: bytes, n: int, last_id: int, shift: int = 0
                    ) -> tuple[array, array, array, bytes]:
    """A block of :data:`POSITIONS` as a writer's pool holds postings:
    document numbers plus ``shift`` (uint32), weights (float32), each value's
    length in bytes (uint32) and the values, raw uint32 positions one after
    another.  What :func:`decode` gives, with the standard library's arrays:
    for a block of a few postings (most terms of a small segment), where
    numpy's cost per call is most of the work."""
    idw, wcode = data[0] & 3, data[0] >> 2
    vcode, flags = data[1] & 3, data[1] >> 2
    if vcode != _V_POSITIONS:
        raise ValueError("not a block of positions")
    at = 2
    # Document numbers: back from the last.
    doc = last_id + shift
    docs = array("I", (doc,)) * n
    if n > 1:
        gaps, at = _unpack(_CODES[idw], data, at, n - 1)
        for i in range(n - 2, -1, -1):
            doc -= gaps[i]
            docs[i] = doc
    # Weights.
    if wcode == _W_ONE:
        weights = array("f", (1.0,)) * n
    elif wcode == _W_SAME:
        one, at = _unpack("f", data, at, 1)
        weights = one * n
    else:
        stored, at = _unpack(("B", "H", "f")[wcode - _W_U8], data, at, n)
        weights = stored if wcode == _W_F32 else array("f", stored)
    # Positions.
    wide, ccode, as_gaps, gap_width = flags & 1, flags >> 1 & 3, flags >> 3 & 1, flags >> 4
    if ccode:
        counts, at = _unpack(_CODES[ccode - 1], data, at, n)
    else:
        counts = array("B", (1,)) * n
    total = sum(counts)
    if as_gaps:
        present = n - counts.count(0)
        firsts, at = _unpack("I", data, at, present)
        rest, at = _unpack(_CODES[gap_width], data, at, total - present)
        positions = array("I")
        f = r = 0
        for c in counts:
            if c:
                positions.extend(accumulate(rest[r:r + c - 1], initial=firsts[f]))
                f += 1
                r += c - 1
    else:
        stored, at = _unpack(("H", "I")[wide], data, at, total)
        positions = stored if wide else array("I", stored)
    return docs, weights, array("I", [4 * c for c in counts]), positions.tobytes()


def _unpack(code: str, data: bytes, at: int, count: int) -> tuple[array, int]:
    """``count`` little-endian numbers of array ``code`` at ``data[at:]``, and
    where they end."""
    a = array(code)
    end = at + count * a.itemsize
    a.frombytes(data[at:end])
    if _SWAP:
        a.byteswap()
    return a, end


def _decode_gaps(data: bytes, at: int, counts: np.ndarray, total: int,
                 gap_type: np.dtype) -> np.ndarray:
    """Positions stored as each posting's first one (uint32) and the gaps
    after it."""
    present = int(np.count_nonzero(counts))
    firsts = np.frombuffer(data, dtype=_U32, count=present, offset=at).astype(np.int64)
    at += 4 * present
    rest = np.frombuffer(data, dtype=gap_type, count=total - present, offset=at)
    return _from_gaps(firsts, rest, counts, total)


def _from_gaps(firsts: np.ndarray, rest: np.ndarray, counts: np.ndarray,
               total: int) -> np.ndarray:
    """The positions of postings of ``counts`` positions each, from each
    present posting's first position and the gaps after it."""
    c = counts[counts > 0]
    starts = np.cumsum(c) - c
    steps = np.empty(total, dtype=np.int64)
    first = np.zeros(total, dtype=bool)
    first[starts] = True
    steps[first] = firsts
    steps[~first] = rest
    running = np.cumsum(steps)
    return running - np.repeat(running[starts] - firsts, c)
