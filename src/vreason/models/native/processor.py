"""Qwen3-VL's processor without transformers: the tokenizer (models/native/tokenizer.py), the image and video
processors' settings, and the chat template rendered as transformers renders it. Why: `import transformers` and
`AutoProcessor.from_pretrained` cost ~3 s of CPU on a 2-core box, and serving reads only settings and templates
(engine/image_patches.py patchifies Qwen's images itself; video frames arrive at the model's size).

`NativeProcessor.from_pretrained(dir)` reads what transformers' `Qwen3VLProcessor.from_pretrained` reads, in its
order: processor_config.json's "image_processor"/"video_processor" (transformers 5), else preprocessor_config.json
and video_preprocessor_config.json (the released layout; the video settings fall back to preprocessor_config.json
too); the chat template from processor_config.json's "chat_template", else chat_template.json, else
chat_template.jinja (+ additional_chat_templates/*.jinja, named). The image settings take the class defaults of
`Qwen2VLImageProcessor` and map `min_pixels`/`max_pixels` into `size` as its __init__ does; the video settings take
`Qwen3VLVideoProcessor`'s (which keeps `min_pixels`/`max_pixels` as plain attributes). `image_mean`/`image_std`
are tuples and `size` a plain dict of the keys set (transformers: a SizeDict with the rest None).

Calling `image_processor(...)` or `video_processor(...)` (the engine's rare fallbacks) runs transformers' own
processor, built from the same directory on first call: the imports happen then, and only then.
(Videos need no call: engine/video_patches.py reproduces the video processor.) `apply_chat_template` renders
text only (`tokenize=False`), in transformers' environment and after its conversation clean-up
(models/native/chat_template.py), the tokenizer's named special tokens as variables. Not supported:
tokenize=True, continue_final_message, assistant masks and tools given as Python functions
(NotImplementedError); another processor class or image/video processor type (ModelLoadError, so the caller
loads transformers' processor).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from vreason.errors import ModelLoadError
from vreason.models.native.chat_template import compiled, find_chat_template, template_messages, template_value
from vreason.models.native.tokenizer import NativeTokenizer, TokenizerPrefetch, read_json

QWEN3_VL_MODEL_TYPES = frozenset({"qwen3_vl", "qwen3_vl_moe"})
IMAGE_TYPES = frozenset({"Qwen2VLImageProcessor", "Qwen2VLImageProcessorFast", "Qwen2VLImageProcessorPil"})
VIDEO_TYPES = frozenset({"Qwen3VLVideoProcessor"})
# The instance attributes transformers' classes have before a checkpoint's settings are applied (v5).
_COMMON = {"do_convert_rgb": True, "do_resize": True, "resample": 3, "do_rescale": True, "rescale_factor": 1 / 255,
           "do_normalize": True, "do_pad": None, "do_center_crop": None, "data_format": None,
           "input_data_format": None, "device": None, "return_tensors": None, "crop_size": None, "pad_size": None}
IMAGE_DEFAULTS = {**_COMMON, "size": {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280},
                  "disable_grouping": None, "image_seq_length": None, "patch_size": 14, "temporal_patch_size": 2,
                  "merge_size": 2, "image_mean": (0.48145466, 0.4578275, 0.40821073),
                  "image_std": (0.26862954, 0.26130258, 0.27577711)}
VIDEO_DEFAULTS = {**_COMMON, "size": {"shortest_edge": 128 * 32 * 32, "longest_edge": 32 * 32 * 768},
                  "do_sample_frames": True, "video_metadata": None, "fps": 2, "num_frames": None,
                  "return_metadata": False, "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2,
                  "min_frames": 4, "max_frames": 768, "cap_pixels_per_frame": None, "max_video_tokens": 768,
                  "image_mean": (0.5, 0.5, 0.5), "image_std": (0.5, 0.5, 0.5)}


class _Settings:
    """A processor's settings as attributes; calling it calls transformers' processor, made on first call."""

    def __init__(self, values: dict[str, Any], real: Any):
        self.__dict__.update(values)
        self._real = real  # a callable returning transformers' processor of this kind

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._real()(*args, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"


class NativeImageProcessor(_Settings):
    """Qwen2VLImageProcessor's settings (engine/image_patches.py reproduces its patchify from them)."""


class NativeVideoProcessor(_Settings):
    """Qwen3VLVideoProcessor's settings."""


class NativeProcessor:
    def __init__(self, source: str, tokenizer: NativeTokenizer, image: dict, video: dict, chat_template: Any):
        self.source = source
        self.tokenizer = tokenizer
        self.chat_template = chat_template  # str, {name: str}, or None
        self._lock = threading.Lock()
        self._real: dict[str, Any] = {}
        self.image_processor = NativeImageProcessor(image, lambda: self._transformers("image"))
        self.video_processor = NativeVideoProcessor(video, lambda: self._transformers("video"))
        # Qwen3VLProcessor.__init__: the tokenizer's own names for these tokens win
        for name, default in (("image_token", "<|image_pad|>"), ("video_token", "<|video_pad|>"),
                              ("vision_start_token", "<|vision_start|>"), ("vision_end_token", "<|vision_end|>")):
            token = tokenizer.special_tokens_map.get(name, default)
            setattr(self, name, token)
            setattr(self, f"{name}_id", tokenizer.convert_tokens_to_ids(token))

    @classmethod
    def from_pretrained(cls, source: str | Path, prefetched: TokenizerPrefetch | None = None) -> NativeProcessor:
        """`prefetched`: the tokenizer.json parse started early (models/native/load.py starts it before torch)."""
        root = Path(source)
        if not root.is_dir():
            raise ModelLoadError(f"{source} is not a local checkpoint directory; the native processor reads files only")
        files = {name: read_json(root / name, "") if (root / name).is_file() else None for name in (
            "processor_config.json", "preprocessor_config.json", "video_preprocessor_config.json")}
        nested = files["processor_config.json"] or {}
        image = nested.get("image_processor") or files["preprocessor_config.json"]
        video = (nested.get("video_processor") or files["video_preprocessor_config.json"]
                 or files["preprocessor_config.json"])
        if image is None or video is None:
            raise ModelLoadError(f"{root} has no processor settings: expected processor_config.json (transformers 5) "
                                 "or preprocessor_config.json + video_preprocessor_config.json")
        tokenizer = NativeTokenizer.from_pretrained(root, prefetched)
        _check_classes(root, files, image, video)
        template = find_chat_template(root, nested)
        return cls(str(source), tokenizer, _image_settings(image), _video_settings(video), template)

    def _transformers(self, kind: str) -> Any:
        """transformers' image or video processor for this checkpoint (not the whole processor: its tokenizer
        would cost seconds and ~90 MiB for nothing)."""
        with self._lock:
            if kind not in self._real:
                import transformers

                auto = transformers.AutoImageProcessor if kind == "image" else transformers.AutoVideoProcessor
                self._real[kind] = auto.from_pretrained(self.source, trust_remote_code=False)
            return self._real[kind]

    def decode(self, token_ids: Any, skip_special_tokens: bool = False) -> Any:
        return self.tokenizer.decode(token_ids, skip_special_tokens=skip_special_tokens)

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False) -> list[str]:
        return self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens)

    def apply_chat_template(
        self,
        conversation: Any,
        chat_template: str | None = None,
        tools: list[dict] | None = None,
        documents: list[dict] | None = None,
        add_generation_prompt: bool = False,
        continue_final_message: bool | str = False,
        return_assistant_tokens_mask: bool = False,
        tokenize: bool = False,
        **kwargs: Any,
    ) -> str | list[str]:
        """The prompt text, as `Qwen3VLProcessor.apply_chat_template(..., tokenize=False)` renders it."""
        if tokenize or continue_final_message or return_assistant_tokens_mask or kwargs.get("sanitize_control_tokens"):
            raise NotImplementedError("the native processor renders text only (tokenize=False, nothing continued)")
        for ignored in ("return_dict", "return_tensors", "processor_kwargs", "load_audio_from_video"):
            kwargs.pop(ignored, None)  # transformers' own arguments, not template variables
        if any(not isinstance(tool, dict) for tool in tools or ()):
            raise NotImplementedError("the native processor takes tools as JSON schemas (dicts) only")
        if any(not isinstance(document, dict) for document in documents or ()):
            raise TypeError("Documents should be a list of dicts with 'title' and 'text' keys!")
        template = compiled(self._resolve(chat_template))
        batched = isinstance(conversation, (list, tuple)) and bool(conversation) and (
            isinstance(conversation[0], (list, tuple)) or hasattr(conversation[0], "messages"))
        variables = template_value({**self.tokenizer.special_tokens_map, **kwargs})
        rendered = [
            template.render(messages=template_messages(chat), tools=template_value(tools),
                            documents=template_value(documents), add_generation_prompt=add_generation_prompt,
                            **variables)
            for chat in (conversation if batched else [conversation])
        ]
        return rendered if batched else rendered[0]

    def _resolve(self, chat_template: str | None) -> str:
        """ProcessorMixin._resolve_chat_template: the default, a named one, or the template text given."""
        templates = self.chat_template
        if chat_template is not None:
            named = isinstance(templates, dict) and chat_template in templates
            return templates[chat_template] if named else chat_template  # type: ignore[index]
        if isinstance(templates, dict):
            if "default" in templates:
                return templates["default"]
            raise ValueError(f"the processor has chat templates {', '.join(templates)} but none named 'default'")
        if templates is None:
            raise ValueError("Cannot use apply_chat_template because this processor does not have a chat template.")
        return templates


def _check_classes(root: Path, files: dict[str, dict | None], image: dict, video: dict) -> None:
    """AutoProcessor's choice of class (the first processor_class in processor_config.json, preprocessor_config.json,
    video_preprocessor_config.json, tokenizer_config.json, else the model type) must be Qwen3-VL's."""
    configs = [*files.values(), read_json(root / "tokenizer_config.json", "")]
    named = next((c["processor_class"] for c in configs if c and c.get("processor_class")), None)
    if named is None and (root / "config.json").is_file():
        model_type = read_json(root / "config.json", "").get("model_type")
        named = "Qwen3VLProcessor" if model_type in QWEN3_VL_MODEL_TYPES else None
    if named != "Qwen3VLProcessor":
        raise ModelLoadError(f"{root}: processor class {named!r} is not Qwen3VLProcessor, the one reproduced natively")
    if image.get("image_processor_type", "Qwen2VLImageProcessor") not in IMAGE_TYPES:
        raise ModelLoadError(f"{root}: image processor {image['image_processor_type']!r} is not Qwen2VLImageProcessor")
    if video.get("video_processor_type", "Qwen3VLVideoProcessor") not in VIDEO_TYPES:
        raise ModelLoadError(f"{root}: video processor {video['video_processor_type']!r} is not Qwen3VLVideoProcessor")


def _image_settings(config: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in config.items() if k != "processor_class"}
    size = values.pop("size", None)
    size = dict(IMAGE_DEFAULTS["size"] if size is None else size)
    for key, edge in (("min_pixels", "shortest_edge"), ("max_pixels", "longest_edge")):  # Qwen2VLImageProcessor
        if (pixels := values.pop(key, None)) is not None:
            size[edge] = pixels
            size.pop(key, None)
    return _tuples({**IMAGE_DEFAULTS, **values, "size": size})


def _video_settings(config: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in config.items() if k != "processor_class"}
    return _tuples({**VIDEO_DEFAULTS, **values, "size": dict(values.get("size") or VIDEO_DEFAULTS["size"])})


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    for key in ("image_mean", "image_std"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    return values
