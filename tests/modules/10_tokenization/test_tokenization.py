"""Module 10 — CharTokenizer and BPETokenizer: vocabularies, round trips, unknown characters, bad ids."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.text.tokenization import UNK_ID, UNK_TOKEN, BPETokenizer, CharTokenizer

CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "then the theme of the thesis",
    "a cat and a dog\nin the hat",
]
ALPHABET = sorted(set("".join(CORPUS)))
UNKNOWN = "?Z€é"  # characters absent from CORPUS

# derandomize: hypothesis draws the same examples every run; database=None: it writes no files.
PROPERTY = settings(max_examples=50, deadline=None, derandomize=True, database=None, print_blob=True)
KNOWN_TEXT = st.text(alphabet=ALPHABET, max_size=40)
ANY_TEXT = st.text(alphabet=ALPHABET + list(UNKNOWN), max_size=40)


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer(vocab_size=60).train(CORPUS)


@pytest.fixture(scope="module")
def char() -> CharTokenizer:
    return CharTokenizer(CORPUS)


def _replace_unknown(text: str) -> str:
    return "".join(c if c in ALPHABET else UNK_TOKEN for c in text)


# ----------------------------------------------------------------------------- CharTokenizer
def test_char_vocab_is_unk_then_sorted_characters(char):
    assert char.id_to_token == [UNK_TOKEN, *ALPHABET]
    assert char.vocab_size == len(ALPHABET) + 1
    assert char.encode("cat") == [ALPHABET.index(c) + 1 for c in "cat"]


@PROPERTY
@given(KNOWN_TEXT)
def test_char_round_trip_over_training_alphabet(char, text):
    assert char.decode(char.encode(text)) == text


@PROPERTY
@given(ANY_TEXT)
def test_char_unknown_characters_become_unk_one_each(char, text):
    ids = char.encode(text)
    assert len(ids) == len(text)
    assert [i == UNK_ID for i in ids] == [c not in ALPHABET for c in text]
    assert char.decode(ids) == _replace_unknown(text)


def test_char_fit_rebuilds_vocab():
    tok = CharTokenizer().fit("ba")
    assert tok.id_to_token == [UNK_TOKEN, "a", "b"]
    assert tok.encode("abc") == [1, 2, UNK_ID]


# ----------------------------------------------------------------------------- BPETokenizer
def test_bpe_learns_frequent_words_as_single_tokens(bpe):
    assert bpe.id_to_token[: 1 + len(ALPHABET)] == [UNK_TOKEN, *ALPHABET]
    assert bpe.id_to_token[1 + len(ALPHABET) : 4 + len(ALPHABET)] == ["he", "the", " the"]  # most frequent first
    ids = bpe.encode("the cat")
    assert [bpe.id_to_token[i] for i in ids] == ["the", " cat"]


def test_bpe_stops_at_the_vocab_budget():
    tok = BPETokenizer(20).train(CORPUS)
    assert tok.vocab_size == 20
    assert len(tok.merges) == 20 - 1 - len(ALPHABET)


def test_bpe_compresses_the_training_text(bpe):
    text = CORPUS[0]
    assert len(bpe.encode(text)) < len(text) / 2


@PROPERTY
@given(KNOWN_TEXT)
def test_bpe_round_trip_over_training_alphabet(bpe, text):
    ids = bpe.encode(text)
    assert all(0 < i < bpe.vocab_size for i in ids)  # no <unk> for known characters
    assert bpe.decode(ids) == text


@PROPERTY
@given(ANY_TEXT)
def test_bpe_unknown_characters_decode_as_unk(bpe, text):
    ids = bpe.encode(text)
    assert ids.count(UNK_ID) == sum(c not in ALPHABET for c in text)
    assert bpe.decode(ids) == _replace_unknown(text)


def test_bpe_unknown_character_is_a_merge_barrier(bpe):
    # "th?e": the unknown "?" splits the word; each side is encoded as if alone.
    assert bpe.encode("the?cat") == bpe.encode("the") + [UNK_ID] + bpe.encode("cat")


def test_bpe_training_is_deterministic():
    a = BPETokenizer(50).train(CORPUS)
    b = BPETokenizer(50).train(list(CORPUS))
    assert a.merges == b.merges and a.id_to_token == b.id_to_token


def test_bpe_stops_when_no_pair_repeats():
    tok = BPETokenizer(100).train("abcd abce")  # chunks "abcd", " abce": only a-b and b-c repeat
    assert [tok.id_to_token[i] for i in tok.encode("abcd abce")] == ["abc", "d", " ", "abc", "e"]
    assert tok.vocab_size == 1 + 6 + 2  # <unk>, " abcde", then "ab" and "abc"
    assert BPETokenizer(100, min_frequency=1).train("abcd abce").vocab_size > tok.vocab_size


def test_bpe_vocab_too_small_for_alphabet():
    with pytest.raises(ValueError, match="at least 4"):
        BPETokenizer(3).train("abc")


def test_bpe_encode_before_train():
    with pytest.raises(RuntimeError, match="train"):
        BPETokenizer(10).encode("a")


# ----------------------------------------------------------------------------- shared error handling
@pytest.mark.parametrize("make", [lambda: CharTokenizer(CORPUS), lambda: BPETokenizer(40).train(CORPUS)])
@pytest.mark.parametrize("where", ["negative", "too_large"])
def test_decode_out_of_range_names_the_id(make, where):
    tok = make()
    bad = -1 if where == "negative" else tok.vocab_size
    with pytest.raises(ValueError, match=rf"token id {bad} .*0\.\.{tok.vocab_size - 1}"):
        tok.decode([1, bad])


@pytest.mark.parametrize("make", [lambda: CharTokenizer(CORPUS), lambda: BPETokenizer(40).train(CORPUS)])
def test_decode_accepts_arrays_and_rejects_float_ids(make):
    tok = make()
    ids = tok.encode("the cat")
    assert tok.decode(np.array(ids, dtype=np.int32)) == "the cat"
    with pytest.raises(TypeError, match="integers"):
        tok.decode([1.0, 2.0])
    with pytest.raises(TypeError, match="str"):
        tok.encode(ids)


@pytest.mark.parametrize("corpus", ["", [], ["", ""]])
def test_empty_corpus_rejected(corpus):
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer(corpus)
    with pytest.raises(ValueError, match="empty"):
        BPETokenizer(10).train(corpus)


def test_bpe_rejects_bad_vocab_size():
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer(1)


def test_other_argument_errors_and_repr(char, bpe):
    with pytest.raises(TypeError, match="item 1 is int"):
        CharTokenizer(["ab", 3])
    with pytest.raises(ValueError, match="1-d"):
        char.decode([[1, 2]])
    with pytest.raises(ValueError, match="min_frequency"):
        BPETokenizer(10, min_frequency=0)
    assert repr(char) == f"CharTokenizer(vocab_size={len(ALPHABET) + 1})"
    assert repr(bpe) == f"BPETokenizer(vocab_size={bpe.vocab_size}, max_vocab_size=60)"
