"""Qwen's tokenizer without transformers: `NativeTokenizer.from_pretrained(dir)` reads tokenizer.json with the
`tokenizers` Rust library and tokenizer_config.json, and encodes and decodes token for token as transformers'
`Qwen2Tokenizer` (v5) does. Why: `import transformers` and `AutoProcessor.from_pretrained` cost ~3 s of CPU
on a 2-core box before a checkpoint's first token; this costs the Rust parse of tokenizer.json alone.

What transformers does, and so this: Qwen2Tokenizer rebuilds the pipeline whatever tokenizer.json says (an NFC
normalizer, a Split pre-tokenizer on Qwen2's pattern then ByteLevel without its regex, a ByteLevel decoder, a
BPE model with no dropout, unk, prefixes or ignore_merges) and keeps tokenizer.json's post-processor (a bare
template when there is none). Its added tokens are tokenizer_config.json's `added_tokens_decoder` (else
tokenizer.json's), then every special token (bos/eos/unk/pad and friends, Qwen2's defaults where the config
omits them, and `additional_special_tokens`) is added again as a plain special AddedToken. Padding and truncation
are off, as transformers sets them on every call that asks for neither. Decoding never cleans up spaces: BPE
opts out of it in v5 (unless the config forces it, which is followed).

Not supported, raising ModelLoadError so the caller loads transformers' tokenizer instead: another tokenizer
class, no tokenizer.json (vocab.json + merges.txt only), a non-BPE model, the legacy added_tokens.json or
special_tokens_map.json (read only when the config has no added_tokens_decoder), and added tokens that tokenizer.json
does not load as transformers takes them (other ids or flags than written; see `_check_added_tokens`). Padding,
truncation, text pairs and tensors are not offered: serving asks for none of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors

from vreason.errors import ModelLoadError

QWEN2_CLASSES = frozenset({"Qwen2Tokenizer", "Qwen2TokenizerFast"})
# transformers/models/qwen2/tokenization_qwen2.py PRETOKENIZE_REGEX
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
NAMED_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# Qwen2Tokenizer.__init__'s defaults, used when tokenizer_config.json has no such key (an explicit null stays None)
QWEN2_DEFAULTS = {"unk_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
_TOKEN_FIELDS = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{path.parent} has no {path.name} ({what}): not a complete checkpoint") from None
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{path} could not be read as JSON ({err}); re-download the checkpoint") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not a JSON object; re-download the checkpoint")
    return data


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string, or an AddedToken dict."""
    return value.get("content") if isinstance(value, dict) else value


class NativeTokenizer:
    def __init__(self, backend: Tokenizer, named: dict[str, str | None], extra: list[str], config: dict[str, Any]):
        self._tokenizer = backend
        self._named = named  # attribute -> token (standard names, then the checkpoint's own *_token names)
        self._extra = extra  # additional special tokens without a name
        self.name_or_path = str(config.get("name_or_path", ""))
        self.model_max_length = int(config.get("model_max_length") or int(1e30))
        self.clean_up_tokenization_spaces = bool(config.get("clean_up_tokenization_spaces", False))
        # v5 skips the clean-up for BPE unless this is set (it removes real spaces before punctuation)
        self._clean_up_bpe = bool(config.get("clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output"))
        self.split_special_tokens = bool(config.get("split_special_tokens", False))
        self.backend = "tokenizers"
        self.is_fast = True

    @classmethod
    def from_pretrained(cls, source: str | Path, prefetched: TokenizerPrefetch | None = None) -> NativeTokenizer:
        """`prefetched`: the same directory's tokenizer.json, already being parsed in a thread."""
        root = Path(source)
        config = read_json(root / "tokenizer_config.json", "the tokenizer settings")
        name = config.get("tokenizer_class")
        if name not in QWEN2_CLASSES:
            raise ModelLoadError(f"{root}: tokenizer class {name!r} is not Qwen2Tokenizer, the one reproduced natively")
        for legacy in ("added_tokens.json", "special_tokens_map.json"):
            if "added_tokens_decoder" not in config and (root / legacy).is_file():
                raise ModelLoadError(f"{root}: legacy {legacy} without added_tokens_decoder is not read natively")
        if not (root / "tokenizer.json").is_file():
            raise ModelLoadError(f"{root} has no tokenizer.json; the native tokenizer does not convert vocab.json")
        try:
            if prefetched is not None:
                backend = prefetched.result()
            else:
                backend = Tokenizer.from_file(str(root / "tokenizer.json"))
        except Exception as err:  # the Rust parser's errors are plain Exceptions
            raise ModelLoadError(f"{root}/tokenizer.json could not be read ({err}); re-download it") from None
        if type(backend.model).__name__ != "BPE":
            raise ModelLoadError(f"{root}/tokenizer.json holds a {type(backend.model).__name__} model, not BPE")
        _qwen2_pipeline(backend, bool(config.get("add_prefix_space")))
        _check_added_tokens(root, backend, config)

        named: dict[str, str | None] = {k: _token_text(config.get(k, QWEN2_DEFAULTS.get(k))) for k in NAMED_TOKENS}
        extra_config = config.get("extra_special_tokens") or config.get("additional_special_tokens") or []
        own = {k: _token_text(v) for k, v in config.items() if k.endswith("_token") and k not in named}
        if isinstance(extra_config, dict):  # named model-specific tokens, e.g. {"image_token": "<|image_pad|>"}
            own.update(extra_config)
            extra_config = []
        named.update({k: v for k, v in own.items() if isinstance(v, str)})
        tokenizer = cls(backend, named, [str(_token_text(t)) for t in extra_config], {"name_or_path": root, **config})
        # Qwen2Tokenizer.__init__'s last step: every special token (re-)added as a plain special AddedToken
        backend.add_tokens([AddedToken(t, special=True) for t in tokenizer.all_special_tokens])
        backend.encode_special_tokens = tokenizer.split_special_tokens
        return tokenizer

    # -- encoding and decoding
    def __call__(self, text: str | list[str], add_special_tokens: bool = True) -> dict[str, Any]:
        if isinstance(text, str):
            ids = self.encode(text, add_special_tokens=add_special_tokens)
            return {"input_ids": ids, "attention_mask": [1] * len(ids)}
        encodings = self._tokenizer.encode_batch(list(text), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings]}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        return self._tokenizer.encode(text, add_special_tokens=add_special_tokens).tokens

    def decode(
        self, token_ids: Any, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None
    ) -> str | list[str]:
        ids = token_ids.tolist() if hasattr(token_ids, "tolist") else token_ids  # numpy arrays, torch tensors
        if isinstance(ids, int):
            ids = [ids]
        if ids and isinstance(ids[0], (list, tuple)):
            return [self.decode(seq, skip_special_tokens, clean_up_tokenization_spaces) for seq in ids]
        text = self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        return _clean_up(text) if clean_up_tokenization_spaces and self._clean_up_bpe else text

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False) -> list[str]:
        return [self.decode(seq, skip_special_tokens) for seq in sequences]

    # -- vocabulary
    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    @property
    def vocab(self) -> dict[str, int]:
        return self.get_vocab()

    @property
    def vocab_size(self) -> int:
        """The base vocabulary, without added tokens (transformers' meaning)."""
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        return self._tokenizer.get_added_tokens_decoder()

    def get_added_vocab(self) -> dict[str, int]:
        return {t.content: i for i, t in sorted(self.added_tokens_decoder.items())}

    @property
    def backend_tokenizer(self) -> Tokenizer:
        return self._tokenizer

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | None | list[int | None]:
        if isinstance(tokens, str):
            found = self._tokenizer.token_to_id(tokens)
            return self.unk_token_id if found is None else found
        return [self.convert_tokens_to_ids(t) for t in tokens]  # type: ignore[misc]

    def convert_ids_to_tokens(self, ids: int | list[int], skip_special_tokens: bool = False) -> Any:
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._tokenizer.id_to_token(int(i)) for i in ids if int(i) not in skip]

    # -- special tokens
    @property
    def special_tokens_map(self) -> dict[str, str]:
        """The named special tokens that are set: what chat templates receive as variables."""
        return {k: v for k, v in self._named.items() if v is not None}

    @property
    def extra_special_tokens(self) -> list[str]:
        return list(self._extra)

    @property
    def all_special_tokens(self) -> list[str]:
        return list(dict.fromkeys([*self.special_tokens_map.values(), *self._extra]))

    @property
    def all_special_ids(self) -> list[int | None]:
        return self.convert_tokens_to_ids(self.all_special_tokens)  # type: ignore[return-value]

    def __getattr__(self, name: str) -> Any:
        # bos_token ... mask_token, the checkpoint's own *_token names, and their *_id forms
        named = self.__dict__.get("_named", {})
        if name in named:
            return named[name]
        if name.endswith("_id") and name[:-3] in named:
            token = named[name[:-3]]
            return None if token is None else self.convert_tokens_to_ids(token)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"NativeTokenizer({self.name_or_path!r}, vocab={len(self)}, special={self.special_tokens_map})"


def _qwen2_pipeline(backend: Tokenizer, add_prefix_space: bool) -> None:
    """Qwen2Tokenizer.__init__'s pipeline on the BPE model tokenizer.json holds (vocabulary and merges kept)."""
    model = backend.model
    model.dropout, model.unk_token, model.fuse_unk, model.byte_fallback = None, None, False, False
    model.continuing_subword_prefix, model.end_of_word_suffix, model.ignore_merges = "", "", False
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel()
    if backend.post_processor is None:  # TokenizersBackend.update_post_processor with no bos/eos to add
        backend.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1", special_tokens=[])
    backend.no_padding()
    backend.no_truncation()


def _check_added_tokens(root: Path, backend: Tokenizer, config: dict[str, Any]) -> None:
    """The added tokens tokenizer.json loaded with must be the ones transformers ends up with: those of the config's
    `added_tokens_decoder` when it has one, else those written in tokenizer.json, flag for flag and at the ids
    written. transformers adds them in id order to a vocabulary without added tokens, the tokenizers library in
    file order, by the same numbering rule (a vocabulary token keeps its id, a new one takes the next free id):
    where the ids that rule gives equal the ids written, both orders give them. Anything else (a gap, an edited
    file, a config that disagrees) is refused rather than rebuilt: no released checkpoint has it."""
    loaded = {i: {f: getattr(t, f) for f in _TOKEN_FIELDS} for i, t in backend.get_added_tokens_decoder().items()}
    if "added_tokens_decoder" in config:
        where, written = "tokenizer_config.json", config["added_tokens_decoder"].items()
    else:
        where, written = "tokenizer.json", ((t["id"], t) for t in _written_added_tokens(root / "tokenizer.json"))
    declared = {int(i): _fields(t) for i, t in written}
    if declared != loaded:
        first = next(i for i in sorted(set(declared) | set(loaded)) if declared.get(i) != loaded.get(i))
        raise ModelLoadError(
            f"{root}: {where} writes added token id {first} as {declared.get(first)}, tokenizer.json loads it as "
            f"{loaded.get(first)}; transformers would number or flag it differently"
        )


def _written_added_tokens(path: Path) -> list[dict[str, Any]]:
    """tokenizer.json's "added_tokens" as written (ids included, which the Rust loader renumbers). The tokenizers
    library writes them near the top, so only the file's head is read; the whole file only when they are not there."""
    with path.open("rb") as file:
        head = file.read(1 << 20).decode("utf-8", errors="ignore")
    key = '"added_tokens":'
    at = head.find(key)
    if at >= 0 and head[at + len(key) :].lstrip().startswith("["):  # the top-level key, not a vocabulary entry
        try:
            return json.JSONDecoder().raw_decode(head[at + len(key) :].lstrip())[0]
        except ValueError:  # the array runs past the head
            pass
    return json.loads(path.read_text(encoding="utf-8")).get("added_tokens", [])


def _fields(token: dict[str, Any]) -> dict[str, Any]:
    """An added token's fields as written, with AddedToken's defaults for those left out."""
    default = AddedToken(token["content"], special=bool(token.get("special")))
    return {f: token[f] if f in token else getattr(default, f) for f in _TOKEN_FIELDS}


def _clean_up(text: str) -> str:
    """transformers' `clean_up_tokenization` (spaces before punctuation and English contractions)."""
    for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                          (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(before, after)
    return text


class TokenizerPrefetch:
    """`Tokenizer.from_file` of a directory's tokenizer.json in a daemon thread, started before `import torch`.

    Why: the Rust parse of Qwen's 152k-vocabulary tokenizer.json (18 MB) took 1.2-1.6 s after torch's import on
    a 2-core Xeon, and it releases the GIL (a Python loop kept 0.83 of its speed beside it), so it can run while
    torch imports. Measured: the parse is hidden, but the import runs 1.0-1.4 s slower beside it (both map and
    fault in memory in one address space), so a start is 0.2-0.33 s shorter (benchmarks/RESULTS.md).
    `result()` waits and returns the backend, or raises what the parse raised; a missing file makes no thread
    (the loader's checks then say why)."""

    def __init__(self, source: str | Path):
        import threading

        self.path = Path(source) / "tokenizer.json"
        self._backend: Tokenizer | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if self.path.is_file():
            self._thread = threading.Thread(target=self._load, name="vreason-tokenizer", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        try:
            self._backend = Tokenizer.from_file(str(self.path))
        except BaseException as err:  # noqa: BLE001 (handed to the caller of result())
            self._error = err

    def result(self) -> Tokenizer:
        if self._thread is None:
            return Tokenizer.from_file(str(self.path))
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._backend is not None
        return self._backend
