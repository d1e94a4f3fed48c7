"""The codec's blocks: exact bytes, and every block decodes to what was encoded."""

from __future__ import annotations

from array import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thb_search import blocks
from thb_search.blocks import POSITIONS, VARIABLE


def pos(*positions: int) -> bytes:
    """A value of the positional fields (PositionArray's encoding)."""
    return array("I", positions).tobytes()


def round_trip(ids: list[int], weights: list[float], values: list[bytes],
               kind: int | str) -> blocks.Block:
    data = blocks.encode(ids, weights, values, kind)
    block = blocks.decode(data, len(ids), ids[-1])
    assert block.ids.tolist() == ids
    assert block.weights.dtype == np.float32
    assert block.weights.tolist() == np.asarray(weights, dtype=np.float32).tolist()
    size = kind if isinstance(kind, int) else None
    if kind == POSITIONS:  # as a pool holds them, decoded with the standard library
        shift = 3 if ids[-1] < 2**32 - 3 else 0  # (the next segment's documents)
        assert blocks.decode_postings(data, len(ids), ids[-1], shift) == (
            array("I", [i + shift for i in ids]), array("f", weights),
            array("I", map(len, values)), b"".join(values))
    if kind != 0:
        assert block.values(size) == tuple(values)
    else:
        assert block.values(size) == (None,) * len(ids)
    return block


def test_a_one_posting_block_is_four_bytes() -> None:
    # layout (1-byte gaps, weights all 1.0), (positions, 16 bits, counts all 1), position 7
    assert blocks.encode([5], [1.0], [pos(7)], POSITIONS) == b"\x00\x03\x07\x00"
    block = blocks.decode(b"\x00\x03\x07\x00", 1, 5)
    assert block.ids.tolist() == [5] and block.weights.tolist() == [1.0]
    assert block.counts.tolist() == [1] and block.positions.tolist() == [7]


def test_exact_bytes_of_gaps_weights_counts_and_wide_positions() -> None:
    data = blocks.encode([10, 11, 300], [2.0, 3.0, 1.0], [pos(1), pos(2, 70000), pos(3)],
                         POSITIONS)
    assert data == bytes([
        0x01 | 2 << 2,  # 16-bit gaps, uint8 weights
        0x03 | (1 | 1 << 1) << 2,  # positions: 32-bit, uint8 counts
        1, 0, 33, 1,  # gaps 1, 289
        2, 3, 1,  # weights
        1, 2, 1,  # counts
        1, 0, 0, 0, 2, 0, 0, 0, 0x70, 0x11, 1, 0, 3, 0, 0, 0])  # positions


def test_wide_positions_of_a_posting_as_gaps() -> None:
    # a body: positions beyond 16 bits, close to each other within a posting
    values = [pos(1), pos(70_000, 70_100, 70_300), pos(), pos(100_000, 165_535)]
    data = blocks.encode([0, 1, 2, 3], [1.0] * 4, values, POSITIONS)
    assert data == bytes([
        0x00,  # 8-bit document gaps, weights all 1.0
        0x03 | (1 | 1 << 1 | 1 << 3 | 1 << 4) << 2,  # wide, uint8 counts, 16-bit gaps
        1, 1, 1,  # document gaps
        1, 3, 0, 2,  # counts
        1, 0, 0, 0, 0x70, 0x11, 1, 0, 0xa0, 0x86, 1, 0,  # first positions
        100, 0, 200, 0, 0xff, 0xff])  # gaps after them
    block = round_trip([0, 1, 2, 3], [1.0] * 4, values, POSITIONS)
    assert block.positions.tolist() == [1, 70_000, 70_100, 70_300, 100_000, 165_535]
    narrow = blocks.encode([0], [1.0], [pos(70_000, 70_001, 70_255)], POSITIONS)
    assert narrow == b"\x00" + bytes([0x03 | (1 | 1 << 1 | 1 << 3) << 2, 3]) + (
        pos(70_000) + bytes([1, 254]))  # 8-bit gaps
    # a gap beyond 16 bits, or positions out of order: 32-bit positions
    for far in ([70_000, 135_536], [70_001, 70_000]):
        data = blocks.encode([0], [1.0], [pos(*far)], POSITIONS)
        assert data[1] == 0x03 | (1 | 1 << 1) << 2 and data[3:] == pos(*far)
        round_trip([0], [1.0], [pos(*far)], POSITIONS)


@pytest.mark.parametrize("position", [0, 255, 256, 65535, 65536, 2**20 - 1, 2**32 - 1])
def test_positions_at_the_edges_of_their_widths(position: int) -> None:
    block = round_trip([0, 1], [1.0, 1.0], [pos(position), pos(0, position)], POSITIONS)
    assert block.positions.tolist() == [position, 0, position]
    assert block.counts.tolist() == [1, 2]


def test_positions_fit_16_bits_until_65535() -> None:
    narrow = blocks.encode([0], [1.0], [pos(65535)], POSITIONS)
    wide = blocks.encode([0], [1.0], [pos(65536)], POSITIONS)
    assert (len(narrow), len(wide)) == (4, 6)


def test_empty_and_long_position_lists() -> None:
    # a body field: a frequent word of a long document, far into it
    body = pos(*range(3_000_000, 3_000_000 + 70_000))
    block = round_trip([0, 1, 2, 3], [1.0, 7.0, 70_000.0, 0.0], [pos(), pos(9), body, pos()],
                       POSITIONS)
    assert block.counts.tolist() == [0, 1, 70_000, 0]
    assert len(block.positions) == 70_001


@pytest.mark.parametrize("gap", [1, 255, 256, 65535, 65536, 2**32 - 2])
def test_document_gaps_at_the_edges_of_their_widths(gap: int) -> None:
    round_trip([0, gap, gap + 1], [1.0] * 3, [pos(1)] * 3, POSITIONS)


def test_document_numbers_must_increase() -> None:
    with pytest.raises(ValueError, match="increase"):
        blocks.encode([3, 3], [1.0, 1.0], [pos(1), pos(2)], POSITIONS)


@pytest.mark.parametrize(("weights", "size"), [
    ([1.0, 1.0, 1.0], 0),  # all 1.0: nothing
    ([2.5, 2.5, 2.5], 4),  # the same for all: one float32
    ([0.0, 2.0, 255.0], 3),  # whole numbers: uint8
    ([1.0, 256.0, 65535.0], 6),  # uint16
    ([1.0, 65536.0, 2.0], 12),  # float32
    ([0.5, 1.0, 1.5], 12),  # float32
    ([1e-7, 3.4e38, 1.0], 12),  # float32
])
def test_weights_take_the_smallest_exact_form(weights: list[float], size: int) -> None:
    data = blocks.encode([0, 1, 2], weights, [], 0)
    assert len(data) == 2 + 2 + size
    round_trip([0, 1, 2], weights, [], 0)


def test_fixed_size_values() -> None:
    one = (1).to_bytes(4, "little")
    same = blocks.encode([0, 1, 2], [1.0] * 3, [one] * 3, 4)
    assert same == b"\x00\x05" + b"\x01\x01" + one  # one value for all
    round_trip([0, 1, 2], [1.0] * 3, [one] * 3, 4)
    round_trip([0, 1, 2], [1.0] * 3, [one, b"\x02\x00\x00\x00", one], 4)
    with pytest.raises(ValueError, match="4 bytes"):
        blocks.encode([0], [1.0], [b"\x01"], 4)


def test_variable_values_and_none() -> None:
    round_trip([1, 5], [1.0, 2.0], [b"", b"\x00\xffabc"], VARIABLE)
    assert blocks.encode([7], [1.0], [b"ignored"], 0) == b"\x00\x00"
    round_trip([7], [1.0], [b"ignored"], 0)


POSTINGS = st.lists(
    st.tuples(st.integers(1, 2**20), st.floats(0, 1e6, width=32),
              st.lists(st.integers(0, 2**32 - 1), max_size=5)),
    min_size=1, max_size=130)


@settings(max_examples=300, deadline=None)
@given(POSTINGS, st.integers(0, 2**31))
def test_any_block_of_positions_round_trips(postings: list[tuple[int, float, list[int]]],
                                            start: int) -> None:
    ids, doc = [], start
    for gap, _, _ in postings:
        doc += gap
        ids.append(doc)
    block = round_trip(ids, [w for _, w, _ in postings], [pos(*p) for _, _, p in postings],
                       POSITIONS)
    assert block.positions.tolist() == [x for _, _, p in postings for x in p]


ONE_WEIGHTS = st.one_of(
    st.sampled_from([1.0, 0.0, -0.0, 2.0, 255.0, 256.0, 65535.0, 65536.0, 0.5, -1.0, 1e-7,
                     3.4e38, float("inf"), float("nan")]),
    st.floats(width=32, allow_nan=True))


@settings(max_examples=500, deadline=None)
@given(ONE_WEIGHTS, st.lists(st.integers(0, 2**32 - 1), max_size=6),
       st.sampled_from([POSITIONS, 0, 4, VARIABLE]))
def test_a_one_posting_block_is_encoded_as_any_block(
        weight: float, positions: list[int], kind: int | str) -> None:
    # encode_one (an add's terms, most of them in one document) gives encode's bytes.
    value = pos(*positions) if kind in (POSITIONS, VARIABLE) else b"\x01\x02\x03\x04"
    [w] = array("f", [weight])  # (a pool's weight: a float32)
    # As the writer gives a term of several postings to encode: positions as
    # the pool's bytes with their lengths, other values (if any has bytes) a list.
    if kind == POSITIONS:
        expected = blocks.encode([9], array("f", [w]), bytearray(value), kind,
                                 array("I", [len(value)]))
    else:
        expected = blocks.encode([9], array("f", [w]), [value] if value else [], kind)
    assert blocks.encode_one(w, bytearray(value), kind, array("I", [len(value)])) == expected


BODY_POSTINGS = st.lists(
    st.tuples(st.integers(1, 300), st.integers(0, 300),
              st.lists(st.integers(0, 70_000), max_size=40)),
    min_size=1, max_size=130)


@settings(max_examples=300, deadline=None)
@given(BODY_POSTINGS, st.integers(0, 2**32 - 2**22))
def test_any_block_of_body_positions_round_trips(
        postings: list[tuple[int, int, list[int]]], base: int) -> None:
    ids = list(np.cumsum([gap for gap, _, _ in postings]).tolist())
    values = [pos(*(base + p for p in np.cumsum(steps).tolist())) for _, _, steps in postings]
    block = round_trip(ids, [float(w) for _, w, _ in postings], values, POSITIONS)
    assert block.counts.tolist() == [len(steps) for _, _, steps in postings]


def _term(block_list: list[list[tuple[int, float, list[int]]]], start: int
          ) -> tuple[bytes, list[tuple[int, int, int, int]], list[blocks.Block]]:
    """A term's blocks (each a list of (gap, weight, positions)) laid out one
    after another with a few bytes of header between them, as in a postings
    file: the bytes, each block's span and each block decoded on its own."""
    data, spans, decoded, doc = b"\xee" * 4, [], [], start
    for postings in block_list:
        ids = []
        for gap, _, _ in postings:
            doc += gap
            ids.append(doc)
        body = blocks.encode(ids, [w for _, w, _ in postings],
                             [pos(*p) for _, _, p in postings], POSITIONS)
        data += b"\xee" * 3  # (a block's header)
        spans.append((len(data), len(data) + len(body), len(ids), ids[-1]))
        data += body
        decoded.append(blocks.decode(body, len(ids), ids[-1]))
    return data, spans, decoded


def _assert_many(data: bytes, spans: list[tuple[int, int, int, int]],
                 decoded: list[blocks.Block]) -> None:
    for positions in (False, True):
        got = blocks.decode_many(data, spans, positions=positions)
        assert got.ids.dtype == np.int64 and got.weights.dtype == np.float32
        assert got.ids.tolist() == [i for b in decoded for i in b.ids.tolist()]
        assert got.weights.tolist() == [w for b in decoded for w in b.weights.tolist()]
        if positions:
            assert got.counts.tolist() == [c for b in decoded for c in b.counts.tolist()]
            assert got.positions.tolist() == [p for b in decoded for p in b.positions.tolist()]
        else:
            assert got.counts is None and got.positions is None


# Blocks of a term mix layouts: 8/16/32-bit document gaps, weights all 1.0,
# one for all or one each, counts all 1 or not, 16-bit, 32-bit and gapped
# positions (a body's).
MIXED_BLOCKS = st.lists(st.lists(
    st.tuples(st.sampled_from([1, 2, 255, 256, 70_000, 2**20]),
              st.sampled_from([1.0, 1.0, 2.0, 300.0, 0.5]),
              st.one_of(st.lists(st.integers(0, 65535), min_size=1, max_size=3),
                        st.lists(st.integers(0, 2**32 - 1), max_size=3),
                        st.lists(st.integers(70_000, 70_300), max_size=4).map(sorted))),
    min_size=1, max_size=40), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(MIXED_BLOCKS, st.integers(0, 2**31))
def test_a_terms_blocks_decoded_at_once_are_its_blocks_decoded_one_by_one(
        block_list: list[list[tuple[int, float, list[int]]]], start: int) -> None:
    _assert_many(*_term(block_list, start))


def test_blocks_decoded_at_once_exactly() -> None:
    # one block of 16-bit gaps and uint8 weights, one of a single posting,
    # one whose weights are one float for all, one of gapped body positions
    block_list = [[(1, 2.0, [5]), (300, 1.0, [6, 7])], [(1, 1.0, [9])],
                  [(2, 0.5, [1]), (2, 0.5, [2])],
                  [(1, 1.0, [70_000, 70_010]), (1, 1.0, []), (1, 1.0, [70_001])]]
    data, spans, decoded = _term(block_list, 10)
    got = blocks.decode_many(data, spans, positions=True)
    assert got.ids.tolist() == [11, 311, 312, 314, 316, 317, 318, 319]
    assert got.weights.tolist() == [2.0, 1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert got.counts.tolist() == [1, 2, 1, 1, 1, 2, 0, 1]
    assert got.positions.tolist() == [5, 6, 7, 9, 1, 2, 70_000, 70_010, 70_001]
    _assert_many(data, spans, decoded)
    empty = blocks.decode_many(b"", [], positions=True)
    assert (empty.ids.tolist(), empty.counts.tolist(), empty.positions.tolist()) == ([], [], [])


def test_blocks_without_positions_are_refused_when_positions_are_asked_for() -> None:
    body = blocks.encode([1, 2], [1.0, 1.0], [b"ab", b"cd"], VARIABLE)
    assert blocks.decode_many(body, [(0, len(body), 2, 2)]).ids.tolist() == [1, 2]
    with pytest.raises(ValueError, match="not a block of positions"):
        blocks.decode_many(body, [(0, len(body), 2, 2)], positions=True)


def test_wide_positions_are_told_from_the_blocks_layout() -> None:
    narrow = blocks.encode([1, 2], [1.0, 1.0], [pos(5), pos(65535)], POSITIONS)
    wide = blocks.encode([3], [1.0], [pos(70_000, 70_001)], POSITIONS)
    one = (7).to_bytes(4, "little")
    fixed = blocks.encode([1, 2], [1.0, 1.0], [one, one], 4)  # (flags 1: one value for all)
    assert fixed[1] >> 2 & 1
    data = narrow + wide + fixed
    span_n, span_w = (0, len(narrow), 2, 2), (len(narrow), len(narrow) + len(wide), 1, 3)
    span_f = (len(narrow) + len(wide), len(data), 2, 2)
    assert blocks.wide_positions(data, [span_n, span_f]) is False
    assert blocks.wide_positions(data, [span_n, span_w]) is True


TERM_WEIGHTS = st.one_of(
    st.sampled_from([1.0, 2.0, 3.0, 0.5, 0.0, 255.0, 256.0, 65535.0, 65536.0, -1.0]),
    st.floats(width=32, allow_nan=False, allow_infinity=False))
BLOCK_POSTINGS = st.lists(
    st.tuples(st.one_of(st.integers(1, 300), st.sampled_from([255, 256, 65535, 65536])),
              st.one_of(st.just(1.0), st.just(2.0), TERM_WEIGHTS),
              st.lists(st.one_of(st.integers(0, 300), st.integers(0, 70_000)),
                       min_size=1, max_size=4) | st.just([7]),
              st.integers(0, 40)),
    min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), BLOCK_POSTINGS), min_size=1, max_size=8),
       st.booleans(), st.booleans())
def test_blocks_encoded_at_once_are_encodes_blocks(
        parts: list[tuple[int, list[tuple[int, float, list[int], int]]]], with_lengths: bool,
        same_weight: bool) -> None:
    """Blocks encoded at once (a long term's, or many short terms' of one
    block each, whose documents increase only within a block) give encode's
    bytes of each block and each block's statistics: postings, last
    document, largest weight, shortest and longest field length (zero
    lengths not counted)."""
    ids, postings, starts = [], [], []
    for first, block in parts:
        starts.append(len(ids))
        doc = first
        for posting in block:
            doc += posting[0]
            ids.append(doc)
            postings.append(posting)
    if len(ids) < 2:
        return
    docs = array("I", ids)
    weights = array("f", [2.0 if same_weight else w for _, w, _, _ in postings])
    lengths = array("I", [4 * len(p) for _, _, p, _ in postings])
    values = bytearray(b"".join(pos(*p) for _, _, p, _ in postings))
    field = np.zeros(max(ids) + 1, dtype=np.int64)
    for doc, (_, _, _, length) in zip(ids, postings, strict=True):
        field[doc] = length
    term = blocks.encode_blocks(docs, weights, lengths, values, starts,
                                field if with_lengths else None)
    assert term is not None
    expected = []
    at = 0
    for b, (start, end) in enumerate(zip(starts, [*starts[1:], len(ids)], strict=True)):
        size = sum(lengths[start:end])
        expected.append(blocks.encode(docs[start:end], weights[start:end],
                                      values[at:at + size], POSITIONS, lengths[start:end]))
        at += size
        lens = [int(field[d]) for d in ids[start:end] if field[d]] if with_lengths else []
        assert term.counts[b] == end - start
        assert term.last_ids[b] == ids[end - 1]
        assert term.top_weights[b] == max(weights[start:end])
        assert term.min_lengths[b] == (min(lens) if lens else None)
        assert term.max_lengths[b] == (max(lens) if lens else 0)
    assert term.data == expected


def test_a_term_encode_blocks_cannot_take_is_left_to_encode() -> None:
    docs, lengths = array("I", [1, 2, 3]), array("I", [4, 4, 4])
    values = bytearray(pos(1, 2, 3))
    ones = array("f", [1.0, 1.0, 1.0])
    assert blocks.encode_blocks(docs, ones, lengths, values, [0, 2], None) is not None
    assert blocks.encode_blocks(array("I", [1, 1, 2]), ones, lengths, values, [0, 2], None) is None
    assert blocks.encode_blocks(docs, array("f", [1.0, float("nan"), 1.0]), lengths, values,
                                [0, 2], None) is None
    assert blocks.encode_blocks(docs, ones, array("I", [4, 3, 5]), values, [0, 2],
                                None) is None


WHOLE_WEIGHTS = st.one_of(
    st.sampled_from([1.0, 2.0, 0.0, 255.0, 256.0, 65535.0, 65536.0, float(2**24)]),
    st.integers(0, 2**24).map(float))
#: A posting's positions: narrow, wide and close (gaps of 8 or 16 bits), wide
#: and far apart or out of order (32 bits).
POSITION_LISTS = st.one_of(
    st.lists(st.integers(0, 300), min_size=1, max_size=5),
    st.lists(st.integers(0, 70_000), min_size=1, max_size=5),
    st.tuples(st.integers(65_536, 2**31), st.lists(st.integers(0, 300), max_size=4)).map(
        lambda t: [t[0] + sum(t[1][:i]) for i in range(len(t[1]) + 1)]),
    st.tuples(st.integers(65_536, 2**31), st.lists(st.integers(200, 70_000), max_size=3)).map(
        lambda t: [t[0] + sum(t[1][:i]) for i in range(len(t[1]) + 1)]),
    st.just([7]), st.just([2**32 - 1]))
TERMS = st.lists(
    st.tuples(st.integers(0, 2**31),
              st.lists(st.tuples(st.one_of(st.integers(1, 300),
                                           st.sampled_from([255, 256, 65535, 65536])),
                                 st.one_of(st.just(1.0), WHOLE_WEIGHTS), POSITION_LISTS),
                       min_size=1, max_size=6)),
    min_size=1, max_size=10)


@settings(max_examples=500, deadline=None)
@given(TERMS, st.integers(0, 30), st.booleans())
def test_terms_encoded_at_once_are_encodes_blocks(
        terms: list[tuple[int, list[tuple[int, float, list[int]]]]], room: int,
        same_weight: bool) -> None:
    """Many terms of one block each, encoded at once (an add's), give each
    term encode's bytes, after ``room`` bytes left for the caller, with its
    largest weight and the sum of its weights."""
    ids: list[int] = []
    weights: list[float] = []
    counts: list[int] = []
    positions: list[int] = []
    bounds = [0]
    for first, postings in terms:
        doc = first
        for gap, weight, where in postings:
            doc = min(doc + gap, 2**32 - 1) if ids[bounds[-1]:] else doc
            if ids[bounds[-1]:] and doc <= ids[-1]:
                break
            ids.append(doc)
            weights.append(3.0 if same_weight else weight)
            counts.append(len(where))
            positions.extend(where)
        bounds.append(len(ids))
    encoded = blocks.encode_terms(np.array(bounds), np.array(ids, dtype=np.uint32),
                                  np.array(weights, dtype=np.float32), np.array(counts),
                                  np.array(positions, dtype=np.uint32), room)
    assert encoded is not None
    at = 0
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        values = [pos(*positions[at + sum(counts[a:i]):at + sum(counts[a:i + 1])])
                  for i in range(a, b)]
        at += sum(counts[a:b])
        expected = blocks.encode(ids[a:b], weights[a:b], values, POSITIONS)
        block = encoded.data[encoded.starts[k]:encoded.starts[k + 1]].tobytes()
        assert block[room:] == expected
        assert encoded.top_weights[k] == max(weights[a:b])
        assert encoded.total_weights[k] == sum(weights[a:b])


def test_exact_bytes_of_terms_encoded_at_once() -> None:
    encoded = blocks.encode_terms(
        np.array([0, 1, 3]), np.array([4, 10, 300]), np.array([1.0, 2.0, 3.0]),
        np.array([1, 1, 2]), np.array([7, 1, 70_000, 70_010]), 2)
    assert encoded is not None
    assert encoded.data.tobytes() == (
        b"\0\0" + b"\x00\x03\x07\x00"  # weight 1.0, one 16-bit position
        + b"\0\0" + bytes([0x01 | 2 << 2, 0x03 | (1 | 1 << 1 | 1 << 3) << 2])  # 16-bit gap, u8
        + bytes([34, 1]) + bytes([2, 3]) + bytes([1, 2])  # gap 290, weights, counts
        + pos(1, 70_000) + bytes([10]))  # first positions, then the gap after one
    assert encoded.starts.tolist() == [0, 6, 25]
    assert encoded.top_weights.tolist() == [1.0, 3.0]
    assert encoded.total_weights.tolist() == [1.0, 5.0]


def test_terms_encode_terms_cannot_take_are_left_to_encode() -> None:
    def encode(bounds: list[int], ids: list[int], weights: list[float],
               counts: list[int]) -> blocks.EncodedTerms | None:
        return blocks.encode_terms(np.array(bounds), np.array(ids), np.array(weights),
                                   np.array(counts), np.arange(sum(counts)), 0)

    assert encode([0, 2, 3], [1, 2, 1], [1.0, 1.0, 1.0], [1, 1, 1]) is not None
    assert encode([0, 2, 3], [2, 2, 1], [1.0, 1.0, 1.0], [1, 1, 1]) is None  # not increasing
    assert encode([0, 0, 3], [1, 2, 3], [1.0, 1.0, 1.0], [1, 1, 1]) is None  # a term without
    for weight in (0.5, -1.0, float("nan"), float("inf"), float(2**24 + 2)):
        assert encode([0, 3], [1, 2, 3], [1.0, weight, 1.0], [1, 1, 1]) is None
    assert encode([0, 3], [1, 2, 3], [1.0, 1.0, 1.0], [1, 0, 2]) is None  # no positions
    assert encode([0, 2], [1, 2, 3], [1.0, 1.0, 1.0], [1, 1, 1]) is None  # postings left over
