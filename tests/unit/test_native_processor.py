"""The native tokenizer and processor (models/native/tokenizer.py, processor.py) against transformers' as the oracle:
token ids, decoded text, vocabulary, special tokens, rendered chat templates, image and video settings and what
the serving code derives from them, the lazy fallback to transformers' image and video processors, xgrammar's
TokenizerInfo, and start-up without importing transformers.

Checkpoint layouts: `tiny` (the real Qwen tokenizer, transformers-5 files), `compact` (a small byte-level BPE),
`demo` (the built-in model) and `released` (tiny's tokenizer in the layout of the released Qwen3-VL repos:
tokenizer_config.json with added_tokens_decoder and additional_special_tokens, preprocessor_config.json with
min_pixels/max_pixels, video_preprocessor_config.json, a chat_template.json using most of what transformers'
template environment offers).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import numpy as np
import pytest
import torch
from PIL import Image

from vreason.errors import ModelLoadError
from vreason.models.native.processor import NativeImageProcessor, NativeProcessor
from vreason.models.native.tokenizer import NativeTokenizer

LAYOUTS = ("tiny", "compact", "demo", "released")
TEXTS = [
    "Hello, world! What colour is the shape?",
    "12345 3.14 -0.5e10 2024-01-01",
    "   leading spaces, runs  of   spaces\n\n\ttabs\t\tand\r\nCRLF   \n  ",
    "it's, I'M, we'll, they'd, you're, IT'S",
    "中文分词测试：你好，世界。日本語のテキスト。",
    "emoji 👍🏽 🇫🇷 👨‍👩‍👧 done",
    "cafe\u0301 vs caf\u00e9",
    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is it?<|im_end|>\n<|im_start|>assistant\n",
    "<0.5 seconds><|vision_start|><|video_pad|><|vision_end|><1.5 seconds><|vision_start|><|video_pad|><|vision_end|>",
    "<think>\nreasoning</think>\n\n<tool_call>{}</tool_call><|endoftext|><|object_ref_start|>a<|box_end|>",
    " <|im_end|> spaced <|image_pad|><|image_pad|>x<|video_pad|> ",
    "",
    (
        "A long paragraph mixing everything: The quick brown fox (version 2.0) jumped over 13 lazy dogs; "
        "naïve façade — “quotes” & ‘apostrophes’… Ω≈ç√∫˜µ≤≥÷ ǅ ﬁ ① ½ x² café\u0301!\n"
    ) * 8,
]
RELEASED_TEMPLATE = """{%- macro render(content) -%}
{%- if content is string -%}{{ content }}
{%- else -%}
{%- for part in content -%}
{%- if part.type == 'image' or 'image' in part -%}<|vision_start|><|image_pad|><|vision_end|>
{%- elif part.type == 'video' or 'video' in part -%}<|vision_start|><|video_pad|><|vision_end|>
{%- elif part.type == 'skip' -%}{% continue %}
{%- elif part.type == 'stop' -%}{% break %}
{%- elif 'text' in part -%}{{ part.text }}
{%- else -%}{{ raise_exception('Unexpected part ' ~ part.type) }}
{%- endif -%}
{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- set ns = namespace(system=false, turns=0) -%}
{%- set opts = dict(a=1, b=2) -%}
{% if tools %}
<|im_start|>system
# Tools
{% for tool in tools %}
{{ tool | tojson }}
{{ tool | tojson(indent=2, sort_keys=true) }}
{% endfor %}
<|im_end|>
{% endif %}
{% for message in messages %}
  {% if message.role not in ('system', 'user', 'assistant', 'tool') %}
    {{ raise_exception('Unexpected role ' ~ message.role) }}
  {% endif %}
  {% set ns.turns = ns.turns + 1 %}
  {% if message.role == 'system' %}{% set ns.system = true %}{% endif %}
<|im_start|>{{ message.role }}
{% if message.role == 'assistant' and message.reasoning_content is defined %}
<think>
{{ message.reasoning_content | trim }}
</think>
{% endif %}
{% if message.role == 'assistant' %}{% generation %}{{ render(message.content) }}{% endgeneration %}
{% else %}{{ render(message.content) }}{% endif %}
{% if loop.previtem is defined %} after={{ loop.previtem.role }}{% endif %}
{% if message.name is defined %} name={{ message.name }}{% endif %}
{% if message.tool_calls is defined %}
{% for k, v in message.tool_calls[0] | items %}{{ k }}={{ v | tojson }};{% endfor %}
{% endif %}
{{ eos_token }}
{% endfor %}
turns={{ ns.turns }} system={{ ns.system }} opts={{ opts | tojson }} bos={{ bos_token is defined }} pad={{ pad_token }}
year={{ strftime_now('%Y') | length }}
{% if add_generation_prompt %}
<|im_start|>assistant
{% if enable_thinking is defined and enable_thinking is false %}<think>

</think>

{% else %}<think>
{% endif %}
{% endif %}"""
CONVERSATIONS = [
    [{"role": "user", "content": "What colour is it?"}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Describe the picture."},
    ],
    [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]},
        {"role": "assistant", "content": "A circle."},
        {"role": "user", "content": [{"type": "text", "text": "And these?"}, {"type": "image"}, {"type": "image"}]},
    ],
    # engine/prompt.py's form for a clip: a bare video part; the engine writes the "<t seconds>" markers after
    # rendering, and users' own text may quote times
    [{"role": "user", "content": [
        {"type": "text", "text": "Watch this:"},
        {"type": "video"},
        {"type": "text", "text": "What happens at <1.5 seconds>?"},
    ]}],
]


def _released_dir(root: Path, tiny: Path) -> Path:
    """tiny's tokenizer and settings written in the released Qwen3-VL repos' file layout."""
    root.mkdir()
    for name in ("tokenizer.json", "config.json"):
        shutil.copy(tiny / name, root / name)
    added = json.loads((tiny / "tokenizer.json").read_text())["added_tokens"]
    specials = [t["content"] for t in added if t["special"] and t["content"] not in ("<|endoftext|>",)]
    (root / "tokenizer_config.json").write_text(json.dumps({
        "add_bos_token": False, "add_prefix_space": False, "errors": "replace", "split_special_tokens": False,
        "added_tokens_decoder": {str(t["id"]): {k: v for k, v in t.items() if k != "id"} for t in added},
        "additional_special_tokens": specials, "bos_token": None, "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>", "unk_token": None, "clean_up_tokenization_spaces": False,
        "model_max_length": 262144, "tokenizer_class": "Qwen2Tokenizer",
        "chat_template": "{{ 'the tokenizer template: the processor never renders it' }}",
    }))
    settings = json.loads((tiny / "processor_config.json").read_text())
    image = {k: v for k, v in settings["image_processor"].items() if k not in ("size", "do_resize", "resample")}
    image.update(min_pixels=128 * 32 * 32, max_pixels=640 * 32 * 32, image_processor_type="Qwen2VLImageProcessorFast",
                 processor_class="Qwen3VLProcessor")
    video = {**settings["video_processor"], "size": {"shortest_edge": 4096, "longest_edge": 25165824}, "fps": 1.5}
    del video["max_video_tokens"]  # older releases lack it: the class default applies
    (root / "preprocessor_config.json").write_text(json.dumps(image))
    (root / "video_preprocessor_config.json").write_text(json.dumps({**video, "processor_class": "Qwen3VLProcessor"}))
    (root / "chat_template.json").write_text(json.dumps({"chat_template": RELEASED_TEMPLATE}))
    return root


@pytest.fixture(scope="module")
def layout_dirs(request, tmp_path_factory) -> dict[str, Path]:
    from vreason.models.demo import demo_model_dir

    tiny = request.getfixturevalue("tiny_model_dir")
    return {
        "tiny": tiny,
        "compact": request.getfixturevalue("compact_model_dir"),
        "demo": demo_model_dir(),
        "released": _released_dir(tmp_path_factory.mktemp("released") / "qwen3-vl", tiny),
    }


@pytest.fixture(scope="module")
def pairs(layout_dirs):
    """Per layout, (native processor, transformers' processor), each loaded once."""
    from transformers import AutoProcessor

    loaded: dict[str, tuple] = {}

    def get(layout: str) -> tuple[NativeProcessor, object]:
        if layout not in loaded:
            directory = layout_dirs[layout]
            loaded[layout] = (NativeProcessor.from_pretrained(directory), AutoProcessor.from_pretrained(directory))
        return loaded[layout]

    return get


@pytest.mark.parametrize("layout", LAYOUTS)
def test_token_ids_match_transformers(pairs, layout):
    native, hf = pairs(layout)
    for text in TEXTS:
        for special in (True, False):
            expected = hf.tokenizer(text, add_special_tokens=special)["input_ids"]
            assert native.tokenizer(text, add_special_tokens=special)["input_ids"] == expected, (layout, text)
            assert native.tokenizer.encode(text, add_special_tokens=special) == expected
    assert native.tokenizer(TEXTS)["input_ids"] == hf.tokenizer(TEXTS)["input_ids"]
    assert native.tokenizer.tokenize(TEXTS[0]) == hf.tokenizer.tokenize(TEXTS[0])


def test_nfc_and_special_tokens_are_applied(pairs):
    """What transformers' rebuilt pipeline adds to tiny's tokenizer.json (which has no normalizer): NFC, and
    added tokens matched whole."""
    tokenizer = pairs("tiny")[0].tokenizer
    assert tokenizer("cafe\u0301")["input_ids"] == tokenizer("caf\u00e9")["input_ids"]
    pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert tokenizer("<|image_pad|><|image_pad|>")["input_ids"] == [pad, pad]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_decode_matches_transformers(pairs, layout):
    native, hf = pairs(layout)
    nt, ht = native.tokenizer, hf.tokenizer
    for text in TEXTS:
        ids = ht(text)["input_ids"]
        for skip in (True, False):
            assert nt.decode(ids, skip_special_tokens=skip) == ht.decode(ids, skip_special_tokens=skip)
    every = list(range(0, len(ht), max(1, len(ht) // 2000))) + list(ht.added_tokens_decoder)
    for skip in (True, False):
        assert nt.decode(every, skip_special_tokens=skip) == ht.decode(every, skip_special_tokens=skip)
        assert nt.convert_ids_to_tokens(every, skip) == ht.convert_ids_to_tokens(every, skip)
    batch = [hf.tokenizer(t)["input_ids"] for t in TEXTS[:3]]
    assert native.tokenizer.decode(batch) == hf.tokenizer.decode(batch)
    assert native.tokenizer.decode(torch.tensor(batch[0])) == hf.tokenizer.decode(batch[0])
    assert native.tokenizer.decode(batch[0][0]) == hf.tokenizer.decode(batch[0][0])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_vocabulary_and_special_tokens_match(pairs, layout):
    native, hf = pairs(layout)
    nt, ht = native.tokenizer, hf.tokenizer
    assert nt.get_vocab() == ht.get_vocab()
    assert (len(nt), nt.vocab_size) == (len(ht), ht.vocab_size)
    for name in ("eos_token", "pad_token", "bos_token", "unk_token", "sep_token", "cls_token", "mask_token"):
        assert (getattr(nt, name), getattr(nt, f"{name}_id")) == (getattr(ht, name), getattr(ht, f"{name}_id")), name
    assert nt.special_tokens_map == ht.special_tokens_map
    assert (nt.all_special_tokens, nt.all_special_ids) == (ht.all_special_tokens, ht.all_special_ids)
    tokens = ["<|im_end|>", "</think>", "Ġthe", "not-a-token-at-all"]
    assert nt.convert_tokens_to_ids(tokens) == ht.convert_tokens_to_ids(tokens)
    assert nt.convert_tokens_to_ids("</think>") == ht.convert_tokens_to_ids("</think>")
    assert nt.get_added_vocab() == ht.get_added_vocab()
    assert nt.model_max_length == ht.model_max_length
    # the whole Rust pipeline: normalizer, pre-tokenizer, model options, added tokens and their flags, decoder
    assert json.loads(nt.backend_tokenizer.to_str()) == json.loads(ht.backend_tokenizer.to_str())


CHAT_LAYOUTS = ("tiny", "demo", "released")


@pytest.mark.parametrize("layout", CHAT_LAYOUTS)
def test_chat_template_matches_transformers(pairs, layout):
    native, hf = pairs(layout)
    for conversation in CONVERSATIONS:
        for generation_prompt in (True, False):
            expected = hf.apply_chat_template(conversation, tokenize=False, add_generation_prompt=generation_prompt)
            got = native.apply_chat_template(conversation, tokenize=False, add_generation_prompt=generation_prompt)
            assert got == expected, (layout, conversation, generation_prompt)
    assert native.apply_chat_template(CONVERSATIONS[:2]) == hf.apply_chat_template(CONVERSATIONS[:2])  # a batch


def test_thinking_template_matches_transformers(tiny_thinking_dir):
    from transformers import AutoProcessor

    from vreason.models.loader import template_opens_thinking

    native, hf = NativeProcessor.from_pretrained(tiny_thinking_dir), AutoProcessor.from_pretrained(tiny_thinking_dir)
    for conversation in CONVERSATIONS:
        expected = hf.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        assert native.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True) == expected
    assert template_opens_thinking(native) is template_opens_thinking(hf) is True


def test_released_template_features_match_transformers(pairs):
    """tools through tojson, macros, namespaces, loop controls and items, the generation tag, reasoning fields and
    their aliases, None values dropped, OpenAI image_url parts, non-JSON values, enable_thinking, special-token
    variables, trim/lstrip blocks: what transformers' template environment and conversation clean-up do."""
    native, hf = pairs("released")
    parameters = {"type": "object", "properties": {"z": {"type": "number"}}}
    function = {"name": "zoom", "description": "Zoom – enlarge «x»", "parameters": parameters}
    tools = [{"type": "function", "function": function}]
    conversation = [
        {"role": "system", "content": "Be brief.", "name": None},
        {"role": "user", "content": "Hello", "name": "ann"},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "image", "image": Image.new("RGB", (4, 4))},
            {"type": "skip"},
            {"type": "text", "text": "Zoom in?"},
            {"type": "stop"},
            {"type": "text", "text": "never rendered"},
        ]},
        {"role": "assistant", "content": "Zooming.", "reasoning": "  They asked to zoom.  ",
         "tool_calls": [{"name": "zoom", "arguments": {"z": np.float32(2.5), "note": "ü"}}]},
        {"role": "tool", "content": "done"},
    ]
    for kwargs in ({}, {"enable_thinking": False}, {"enable_thinking": True, "add_generation_prompt": True}):
        expected = hf.apply_chat_template(conversation, tools=tools, tokenize=False, **kwargs)
        assert native.apply_chat_template(conversation, tools=tools, tokenize=False, **kwargs) == expected, kwargs
    assert "Zoom – enlarge «x»" in expected  # tojson with ensure_ascii off
    assert "never rendered" not in expected  # {% break %}
    bad = [{"role": "robot", "content": "hi"}]
    with pytest.raises(jinja2.exceptions.TemplateError, match="Unexpected role robot"):
        hf.apply_chat_template(bad, tokenize=False)
    with pytest.raises(jinja2.exceptions.TemplateError, match="Unexpected role robot"):
        native.apply_chat_template(bad, tokenize=False)
    with pytest.raises(NotImplementedError):
        native.apply_chat_template(conversation, tokenize=True)


def _settings(processor) -> dict:
    values = {k: v for k, v in vars(processor).items() if not k.startswith("_")}
    if not isinstance(values["size"], dict):  # transformers' SizeDict: the keys set
        values["size"] = {k: v for k, v in vars(values["size"]).items() if v is not None}
    return values


@pytest.mark.parametrize("layout", LAYOUTS)
def test_settings_match_transformers(pairs, layout):
    from vreason.engine.image_patches import PatchSpec
    from vreason.media.pixel_budget import checkpoint_budget
    from vreason.media.video_budget import VideoBudget

    native, hf = pairs(layout)
    assert _settings(native.image_processor) == _settings(hf.image_processor)
    assert _settings(native.video_processor) == _settings(hf.video_processor)
    assert checkpoint_budget(native) == checkpoint_budget(hf)
    assert VideoBudget.from_processor(native) == VideoBudget.from_processor(hf)
    spec = PatchSpec.from_processor(native.image_processor)
    assert spec is not None
    assert spec == PatchSpec.from_processor(hf.image_processor)
    for name in ("image_token", "video_token", "vision_start_token", "vision_end_token"):
        assert (getattr(native, name), getattr(native, f"{name}_id")) == (getattr(hf, name), getattr(hf, f"{name}_id"))


def test_released_layout_reads_min_max_pixels(pairs):
    native, hf = pairs("released")
    assert native.image_processor.size == {"shortest_edge": 128 * 32 * 32, "longest_edge": 640 * 32 * 32}
    assert (native.video_processor.fps, native.video_processor.max_video_tokens) == (1.5, 768)
    assert native.chat_template == RELEASED_TEMPLATE == hf.chat_template


def test_image_and_video_processors_call_transformers(pairs):
    native, hf = pairs("tiny")
    images = [Image.new("RGB", (100, 60), (200, 30, 30)), Image.linear_gradient("L").convert("RGB").resize((64, 96))]
    size = {"shortest_edge": 64 * 64, "longest_edge": 256 * 256}
    got = native.image_processor(images=images, size=size, return_tensors="pt")
    expected = hf.image_processor(images=images, size=size, return_tensors="pt")
    assert torch.equal(got["image_grid_thw"], expected["image_grid_thw"])
    assert torch.equal(got["pixel_values"], expected["pixel_values"])
    frames = np.random.default_rng(0).integers(0, 256, (4, 64, 96, 3), dtype=np.uint8)
    options = {"do_sample_frames": False, "do_resize": False, "cap_pixels_per_frame": True, "return_tensors": "pt"}
    got, expected = native.video_processor(videos=[frames], **options), hf.video_processor(videos=[frames], **options)
    assert torch.equal(got["video_grid_thw"], expected["video_grid_thw"])
    assert torch.equal(got["pixel_values_videos"], expected["pixel_values_videos"])
    assert isinstance(native.image_processor, NativeImageProcessor)


@pytest.mark.parametrize("layout", ["compact", "tiny"])
def test_grammar_tokenizer_info_matches_from_huggingface(pairs, layout):
    import xgrammar as xgr

    from vreason.engine.grammar import _vocab

    native, hf = pairs(layout)
    vocab_size = -(-len(hf.tokenizer) // 128) * 128 + 128
    stop = [hf.tokenizer.convert_tokens_to_ids("<|im_end|>"), hf.tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    expected = xgr.TokenizerInfo.from_huggingface(hf.tokenizer, vocab_size=vocab_size, stop_token_ids=stop)
    compiled = _vocab(native.tokenizer, vocab_size, stop).compiler.compile_json_schema('{"type": "object"}')
    ours = compiled.tokenizer_info  # the info the cached compiler was built from
    assert ours.serialize_json() == expected.serialize_json()
    assert ours.decoded_vocab == expected.decoded_vocab
    assert (ours.vocab_type, ours.add_prefix_space, ours.stop_token_ids) == (
        expected.vocab_type, expected.add_prefix_space, expected.stop_token_ids)


def test_start_up_imports_neither_transformers_nor_torchvision():
    code = (
        "import sys\n"
        "from vreason.models.demo import demo_model_dir\n"
        "from vreason.models.native.processor import NativeProcessor\n"
        "p = NativeProcessor.from_pretrained(demo_model_dir())\n"
        "chat = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': 'hi'}]}]\n"
        "text = p.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)\n"
        "assert p.tokenizer(text)['input_ids'] and p.tokenizer.decode([1, 2])\n"
        "assert p.image_processor.patch_size == 16\n"
        "heavy = sorted(m for m in ('transformers', 'torchvision', 'torch') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors"))
    return target


def test_unsupported_checkpoints_raise_model_load_error(layout_dirs, tmp_path):
    demo = layout_dirs["demo"]
    with pytest.raises(ModelLoadError, match="not a local checkpoint directory"):
        NativeProcessor.from_pretrained(tmp_path / "absent")

    other = _copy(demo, tmp_path / "other-class")
    config = json.loads((other / "tokenizer_config.json").read_text())
    (other / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "LlamaTokenizer"}))
    with pytest.raises(ModelLoadError, match="'LlamaTokenizer' is not Qwen2Tokenizer"):
        NativeProcessor.from_pretrained(other)

    no_settings = _copy(demo, tmp_path / "no-settings")
    (no_settings / "processor_config.json").unlink()
    with pytest.raises(ModelLoadError, match="has no processor settings"):
        NativeProcessor.from_pretrained(no_settings)

    no_tokenizer = _copy(demo, tmp_path / "no-tokenizer")
    (no_tokenizer / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="has no tokenizer.json"):
        NativeTokenizer.from_pretrained(no_tokenizer)

    other_processor = _copy(demo, tmp_path / "other-processor")
    settings = json.loads((other_processor / "processor_config.json").read_text())
    settings["processor_class"] = "LlavaProcessor"
    (other_processor / "processor_config.json").write_text(json.dumps(settings))
    with pytest.raises(ModelLoadError, match="'LlavaProcessor' is not Qwen3VLProcessor"):
        NativeProcessor.from_pretrained(other_processor)


def test_a_prefetched_tokenizer_is_the_same_and_its_errors_are_the_loaders(layout_dirs, tmp_path):
    from vreason.models.native.tokenizer import TokenizerPrefetch

    demo = layout_dirs["demo"]
    text = "Zoom <|vision_start|> on the red circle, then «count» the squares."
    plain = NativeTokenizer.from_pretrained(demo)
    prefetch = TokenizerPrefetch(demo)
    assert prefetch._thread is not None  # parsed in its own thread
    early = NativeTokenizer.from_pretrained(demo, prefetch)
    assert early(text)["input_ids"] == plain(text)["input_ids"]
    assert early.get_vocab() == plain.get_vocab()

    damaged = _copy(demo, tmp_path / "damaged")
    (damaged / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="tokenizer.json could not be read"):
        NativeTokenizer.from_pretrained(damaged, TokenizerPrefetch(damaged))
    missing = _copy(demo, tmp_path / "missing")
    (missing / "tokenizer.json").unlink()
    assert TokenizerPrefetch(missing)._thread is None  # no thread: the loader's own check says what is missing
    with pytest.raises(ModelLoadError, match="has no tokenizer.json"):
        NativeTokenizer.from_pretrained(missing, TokenizerPrefetch(missing))


def test_added_tokens_not_as_written_raise(layout_dirs, tmp_path):
    """transformers takes tokenizer_config.json's added tokens (else tokenizer.json's as written) and numbers them
    itself; where that could differ from what tokenizer.json loads as, the native tokenizer refuses (the caller then
    loads transformers') rather than tokenize differently."""
    released = _copy(layout_dirs["released"], tmp_path / "flags")
    config = json.loads((released / "tokenizer_config.json").read_text())
    config["added_tokens_decoder"]["151668"]["lstrip"] = True
    (released / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="tokenizer_config.json writes added token id 151668"):
        NativeTokenizer.from_pretrained(released)

    gap = _copy(layout_dirs["compact"], tmp_path / "gap")
    data = json.loads((gap / "tokenizer.json").read_text())
    data["added_tokens"][-1]["id"] += 5  # a hole before the last added token: loaded 5 lower than written
    (gap / "tokenizer.json").write_text(json.dumps(data))
    loaded_at = data["added_tokens"][-1]["id"] - 5
    with pytest.raises(ModelLoadError, match=f"tokenizer.json writes added token id {loaded_at} as None"):
        NativeTokenizer.from_pretrained(gap)
