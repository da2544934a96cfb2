"""Hybrid recall: one user's items found by words (full-text), by meaning (MiniLM cosine), by picture
(perceptual hash of an image in the question: the same picture; the checkpoint's pooled vision features: a similar
picture), merged with recency into one score.

    score = 0.5 * meaning + 0.35 * words + 0.6 * picture + 0.4 * similar + 0.1 * recency

meaning = max(0, (cosine - 0.15) / 0.85), words = the full-text score relative to the best hit, picture =
1 - pHash distance / 64 for pictures within `SAME_PICTURE_BITS` (the same picture), similar = 0.5 + 0.5 *
(cosine - SIMILAR_COSINE) / (1 - SIMILAR_COSINE) for other pictures whose vision-feature cosine reaches
`SIMILAR_COSINE` (so a similar picture alone scores 0.2-0.4, below the same picture's ~0.6), recency = exp(-age /
30 days). Vision features compare only with those the same checkpoint stored; without them (no local model, or
an older store) pictures are matched by pHash alone. An item counts only if a word or picture matched it or its
cosine reaches `MIN_COSINE`: recency alone never recalls anything. The query is embedded once (and cached), the
namespace's matrix is cached (vector_index.py), so a recall is one matrix-vector product, one FTS query and one
fetch of the k winners (and, with pictures, one read of the user's picture hashes and vision features).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from vreason.media import ImageSource, PreparedImage
from vreason.memory.images import SAME_PICTURE_BITS, hash_distance, perceptual_hash
from vreason.memory.store import MemoryStore
from vreason.memory.types import RecallHit

WEIGHTS = {"embedding": 0.5, "text": 0.35, "image": 0.6, "similar": 0.4, "recent": 0.1}
# Measured on the demo model (pooling: LocalEngine.image_embedding): a red circle against red circles drawn
# elsewhere and larger/smaller 0.83-0.85, against a blue triangle 0.60, a green square 0.57; the tiny model's
# features are coarse: one shared attribute (a blue circle, a red triangle) also reaches 0.81-0.83
SIMILAR_COSINE = 0.75
MIN_COSINE = 0.3
MIN_SCORE = 0.25  # below this a hit is noise (a weak cosine alone, e.g. shared numbers)
VECTOR_CANDIDATES = 50
TEXT_CANDIDATES = 20
RECENCY_DAYS = 30.0


def recall(
    store: MemoryStore,
    user: str,
    query: str,
    pictures: Sequence[ImageSource | PreparedImage] = (),
    k: int = 5,
    now: float | None = None,
    vision: Sequence[np.ndarray] = (),
    vision_model: str | None = None,
) -> list[RecallHit]:
    """`vision`: the question's pictures' pooled vision features from the checkpoint `vision_model`, if any."""
    now = time.time() if now is None else now
    signals: dict[int, dict[str, float]] = {}
    if query.strip() and store.embedder is not None:
        vectors = store.vectors.get(user)
        if len(vectors.ids):
            # einsum, not BLAS: one thread, no pool to wake (under load BLAS's threads waited for cores: p90 7-20 ms
            # against einsum's steady 0.9 ms for 10,000 x 384)
            similarity = np.einsum("ij,j->i", vectors.matrix, store.embedder.embed_query(query))
            top = min(VECTOR_CANDIDATES, len(similarity))
            for index in np.argpartition(-similarity, top - 1)[:top]:
                cosine = float(similarity[index])
                if cosine >= MIN_COSINE:
                    signals.setdefault(int(vectors.ids[index]), {})["embedding"] = (cosine - 0.15) / 0.85
    for row_id, score in store.text_search(user, query, TEXT_CANDIDATES) if query.strip() else []:
        signals.setdefault(row_id, {})["text"] = score
    same: set[str] = set()
    if pictures:
        wanted = [perceptual_hash(p) for p in pictures]
        matched: dict[str, float] = {}
        for sha, phash in store.picture_hashes(user):
            distance = min(hash_distance(phash, w) for w in wanted)
            if distance <= SAME_PICTURE_BITS:
                matched[sha] = max(matched.get(sha, 0.0), 1 - distance / 64)
        if matched:
            same = set(matched)
            for row_id, item in store.by_ids(user, store.by_pictures(user, matched)).items():
                signals.setdefault(row_id, {})["image"] = matched[item.image_sha256]
    if vision and vision_model:
        similar = _similar_pictures(store, user, vision, vision_model, same)
        for row_id, item in store.by_ids(user, store.by_pictures(user, similar)).items():
            signals.setdefault(row_id, {})["similar"] = similar[item.image_sha256]
    if not signals:
        return []
    # rank without recency first (it adds at most its weight), so only the likely winners are read from the store
    rough = sorted(signals, key=lambda i: -sum(WEIGHTS[n] * v for n, v in signals[i].items()))
    found = store.by_ids(user, rough[: max(3 * k, 15)])
    hits = []
    for row_id, item in found.items():  # an id missing here was forgotten between the searches
        parts = signals[row_id]
        age_days = max(0.0, now - item.created_at.timestamp()) / 86400
        parts["recent"] = math.exp(-age_days / RECENCY_DAYS)
        score = sum(WEIGHTS[name] * value for name, value in parts.items())
        if score < MIN_SCORE:
            continue
        why = tuple(name for name in ("text", "embedding", "image", "similar") if name in parts)
        hits.append(RecallHit(item, score, why))
    hits.sort(key=lambda h: (-h.score, -h.item.row_id))
    return hits[:k]


def _similar_pictures(
    store: MemoryStore, user: str, vision: Sequence[np.ndarray], model: str, same: set[str]
) -> dict[str, float]:
    """This user's pictures (other than the same ones) whose vision features reach SIMILAR_COSINE, scored."""
    found: dict[str, float] = {}
    for sha, stored in store.picture_vectors(user, model):
        if sha in same:
            continue
        cosine = max((float(stored @ v) for v in vision if v.shape == stored.shape), default=-1.0)
        if cosine >= SIMILAR_COSINE:
            found[sha] = 0.5 + 0.5 * (cosine - SIMILAR_COSINE) / (1 - SIMILAR_COSINE)
    return found
