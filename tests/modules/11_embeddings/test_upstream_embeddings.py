"""Module 11: upstream's ``tinytorch.core.embeddings`` path, and the lookup's ``EmbeddingBackward``."""

from __future__ import annotations

import numpy as np

from tinytorch.text import embeddings


def test_core_embeddings_is_the_same_objects():
    from tinytorch.core.embeddings import Embedding, PositionalEncoding

    assert Embedding is embeddings.Embedding and PositionalEncoding is embeddings.PositionalEncoding


def test_a_lookup_names_its_backward_and_scatters_the_gradient():
    from tinytorch.core.embeddings import Embedding

    np.random.seed(0)
    emb = Embedding(5, 3)
    out = emb.forward(np.array([[1, 1, 4]]))
    assert isinstance(out._grad_fn, embeddings.EmbeddingBackward)
    out.sum().backward()
    assert emb.weight.grad[:, 0].tolist() == [0.0, 2.0, 0.0, 0.0, 1.0]
