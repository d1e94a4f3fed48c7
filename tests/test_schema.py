"""The fast indexing paths give exactly what Whoosh's own paths give."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from conftest import BUNDLED
from thb_search.corpus import read_records
from thb_search.fields import FIELD_SEPARATOR, text_postings, text_tokens
from thb_search.schema import TITLE_BOOST, PositionArray, build_schema, to_document
from thb_search.whoosh_internals import fast_writer, read_postings

TEXTS = st.text(alphabet=st.sampled_from("ab c-d'e Éf  the of, gender-sensitive NRMs"),
                max_size=60)


@settings(max_examples=200, deadline=None)
@given(TEXTS, TEXTS)
def test_text_postings_equal_the_analyzer_tokens(title: str, summary: str) -> None:
    schema = build_schema()
    field = schema["text"]
    value = title + FIELD_SEPARATOR + summary
    # Whoosh's generic path: the analyzer's tokens through the field's format.
    generic = sorted((t.decode() if isinstance(t, bytes) else t, f, w, v)
                     for t, f, w, v in field.format.word_values(value, field.analyzer,
                                                                mode="index"))
    fast = sorted((t.decode(), f, w, v) for t, f, w, v in field.index(value))
    assert fast == generic
    positions, weights, length = text_postings(title, summary, TITLE_BOOST)
    assert length == len(list(text_tokens(title, summary, TITLE_BOOST)))


def test_position_array_round_trip() -> None:
    fmt = PositionArray()
    encoded = fmt.encode([0, 5, 101, 70000])
    assert fmt.decode_positions(encoded) == [0, 5, 101, 70000]
    assert fmt.decode_frequency(encoded) == 4


def test_fast_writer_writes_what_whoosh_writes(tmp_path: Path) -> None:
    docs = [to_document(r, r.fingerprint()) for r in read_records([BUNDLED])] * 30
    built = {}
    for name in ("whoosh", "fast"):
        folder = tmp_path / name
        folder.mkdir()
        ix = whoosh_index.create_in(str(folder), build_schema())
        writer = SegmentWriter(ix) if name == "whoosh" else fast_writer(ix)
        for doc in docs:
            writer.add_document(**doc)
        writer.commit()
        built[name] = ix
    with built["whoosh"].reader() as a, built["fast"].reader() as b:
        assert list(a.all_terms()) == list(b.all_terms())
        for field, term in a.all_terms():
            pa, pb = a.postings(field, term), b.postings(field, term)
            assert list(pa.items_as("weight")) == list(pb.items_as("weight"))
            if field == "text":
                assert list(pa.items_as("positions")) == list(pb.items_as("positions"))
            ta, tb = a.term_info(field, term), b.term_info(field, term)
            assert (ta.doc_frequency(), ta.max_weight(), ta.min_length(), ta.max_length()) == (
                tb.doc_frequency(), tb.max_weight(), tb.min_length(), tb.max_length())
        assert [a.stored_fields(d) for d in range(a.doc_count_all())] == [
            b.stored_fields(d) for d in range(b.doc_count_all())]
        docs_b, weights_b, keys_b = read_postings(b, "text", "traffick", positions=True)
        assert docs_b.tolist() == list(a.postings("text", "traffick").all_ids())
