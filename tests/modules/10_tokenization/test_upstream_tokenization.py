"""Module 10: upstream's ``tinytorch.core.tokenization`` path gives the same tokenizers."""

from __future__ import annotations

from tinytorch.text import tokenization


def test_core_tokenization_is_the_same_objects():
    from tinytorch.core.tokenization import BPETokenizer, CharTokenizer

    assert CharTokenizer is tokenization.CharTokenizer and BPETokenizer is tokenization.BPETokenizer
    tok = CharTokenizer("hello")
    assert tok.decode(tok.encode("hell")) == "hell"
