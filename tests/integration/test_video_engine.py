"""Video through the batching engine against the oracle: with greedy decoding in fp32, a request about a real
H.264 clip (encoded here with PyAV) gets the tokens of plain `model.generate` on that request alone, fed by
the HF processor's video path (the same sampled frames, their metadata, Qwen's `<t seconds>` markers) — alone,
in a batch with image and mixed requests, as a follow-up whose clip KV comes from the prefix cache, and from
the vision cache in a new conversation. Another fps is another vision-cache entry. Tiny random Qwen3-VL.

transformers 5.24's Qwen3VLProcessor keeps the template's own <|vision_start|>/<|vision_end|> around the
per-patch ones it inserts; Qwen's reference (and transformers 4.57, vLLM) replaces the template's
`<|vision_start|><|video_pad|><|vision_end|>` whole. The reference here hands the processor a bare
`<|video_pad|>` so that it builds Qwen's form, which is what vreason sends to the model.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from transformers.video_utils import VideoMetadata

from tests.oracle import transformers_twin
from tests.video_samples import make_clip
from vreason import VReason
from vreason.engine.prompt import build_prompt, conversation_videos
from vreason.engine.types import Message, TextPart, VideoPart
from vreason.errors import InvalidRequestError

pytestmark = pytest.mark.slow

NEW_TOKENS = 10
# The random model answers newlines to everything under plain greedy decoding, which would make the oracle
# blind to the video; a repetition penalty (HF's, which the engine's sampler shares) makes the answer depend
# on every prompt logit, so a wrong frame, time or position changes it.
PENALTY = 2.0
TRIPLE = "<|vision_start|><|video_pad|><|vision_end|>"


@pytest.fixture(scope="module")
def fp32(tiny_model_dir):
    vr = VReason(str(tiny_model_dir), dtype="float32")
    assert vr.loaded.model_code == "native"  # vreason's own model code, held to transformers' generate here
    yield vr
    vr.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "bar.mp4", width=96, height=64, frames=30, fps=10)


def noise(width: int, height: int, seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def reference(vr: VReason, messages: list[Message]) -> list[int]:
    """`model.generate` on the request alone, its inputs built by the HF processor (images and videos)."""
    engine = vr.engine
    resolved = vr.aio.media.resolve(messages)
    prompt = build_prompt(engine.loaded.processor, resolved, engine.budget, engine.video_budget)
    conversation_text = engine.loaded.processor.apply_chat_template(
        _template_dicts(resolved), tokenize=False, add_generation_prompt=True
    )
    videos = conversation_videos(resolved)
    kwargs = {"text": [conversation_text.replace(TRIPLE, "<|video_pad|>")], "return_tensors": "pt"}
    if prompt.pixels:
        kwargs["images"] = list(prompt.pixels)
        kwargs["images_kwargs"] = {"size": engine.budget.processor_size()}
    if videos:
        kwargs["videos"] = [v.frames for v in videos]
        kwargs["videos_kwargs"] = {
            "video_metadata": [_metadata(v) for v in videos],
            "do_sample_frames": False,
            "do_resize": False,
            "cap_pixels_per_frame": True,
        }
    twin = transformers_twin(engine.loaded)
    inputs = twin.processor(**kwargs)
    out = twin.model.generate(
        **inputs,
        max_new_tokens=NEW_TOKENS,
        do_sample=False,
        temperature=1.0,
        top_p=1.0,
        top_k=50,
        repetition_penalty=PENALTY,
    )
    return out[0, inputs["input_ids"].shape[1] :].tolist()


def _template_dicts(messages: list[Message]) -> list[dict]:
    from vreason.engine.prompt import chat_conversation

    return chat_conversation(messages)[0]


def _metadata(video) -> VideoMetadata:
    """The clip's frames as the HF processor describes them: index / fps is each frame's time (a constant-rate
    clip starting at 0, as the fixture is)."""
    fps = video.source_fps
    indices = [round(t * fps) for t in video.timestamps]
    assert all(abs(i / fps - t) < 1e-9 for i, t in zip(indices, video.timestamps, strict=True))
    return VideoMetadata(total_num_frames=max(indices) + 1, fps=fps, frames_indices=indices)


def video_question(clip, text: str, **sampling) -> Message:
    return Message("user", [VideoPart(str(clip), sampling or None), TextPart(text)])


def chat(vr: VReason, messages: list[Message]):
    return vr.chat(messages, temperature=0, presence_penalty=0, repetition_penalty=PENALTY, max_new_tokens=NEW_TOKENS)


def test_a_clip_alone_matches_generate_and_carries_real_times(fp32, clip):
    messages = [video_question(clip, "What moves in this clip?")]
    answer = chat(fp32, messages)
    assert answer.token_ids == reference(fp32, messages)
    video = conversation_videos(fp32.aio.media.resolve(messages))[0]
    assert video.num_frames == 6  # 3 s at 2 fps
    assert video.timestamps == (0.0, 0.6, 1.2, 1.7, 2.3, 2.9)  # the nearest real frames to an even spread
    assert answer.usage.video_tokens == answer.usage.image_tokens > 0
    prompt = build_prompt(fp32.engine.loaded.processor, fp32.aio.media.resolve(messages), fp32.engine.budget)
    assert "<0.3 seconds><|vision_start|><|video_pad|><|vision_end|><1.4 seconds>" in prompt.text


def test_videos_images_and_both_in_one_batch_match_generate_alone(fp32, clip):
    convs = [
        [video_question(clip, "Describe the motion.", fps=4.0)],
        [Message.user("Describe this picture.", [noise(64, 96, 1)])],
        [Message("user", [VideoPart(str(clip), {"num_frames": 4}), TextPart("And this?")])],
        [
            Message(
                "user",
                [
                    TextPart("Compare"),
                    VideoPart(str(clip), {"max_frames": 4}),
                    *Message.user("with", [noise(80, 80, 2)]).content,
                ],
            )
        ],
    ]
    expected = [reference(fp32, c) for c in convs]
    answers = fp32.chat_many(
        convs, temperature=0, presence_penalty=0, repetition_penalty=PENALTY, max_new_tokens=NEW_TOKENS
    )
    assert [a.token_ids for a in answers] == expected
    assert len({tuple(e) for e in expected}) == len(expected)  # the answers tell the inputs apart
    assert answers[1].usage.video_tokens == 0
    assert answers[3].usage.video_tokens > 0


def test_a_follow_up_about_the_clip_reuses_its_kv_and_matches(fp32, clip):
    turn1 = [video_question(clip, "What colour is the bar?", start=0.5, end=2.5)]
    first = chat(fp32, turn1)
    history = [*turn1, Message.assistant("White."), Message.user("Where is it at the end?")]
    follow_up = chat(fp32, history)
    assert follow_up.token_ids == reference(fp32, history)
    assert follow_up.usage.cached_tokens >= first.usage.prompt_tokens  # template, clip and first question
    assert follow_up.usage.cached_tokens < follow_up.usage.prompt_tokens


def test_same_sampling_hits_the_vision_cache_another_fps_does_not(fp32, clip):
    vision = fp32.engine.vision_cache
    chat(fp32, [video_question(clip, "First look.", fps=1.0)])
    entries = len(vision)
    other = [Message.system("You watch clips."), video_question(clip, "Anything odd?", fps=1.0)]
    answer = chat(fp32, other)
    assert answer.token_ids == reference(fp32, other)
    assert answer.usage.cached_images == 2  # both temporal patches (4 frames) came from the cache
    assert len(vision) == entries
    faster = chat(fp32, [video_question(clip, "First look.", fps=3.0)])
    assert faster.usage.cached_images == 0
    assert len(vision) > entries  # another fps: other frames, other entries


def test_a_clip_too_long_for_the_context_is_refused_before_the_vision_tower(fp32):
    frames = [noise(256, 256, i) for i in range(400)]  # 200 temporal patches of 64 tokens
    misses = fp32.engine.vision_cache.stats().misses
    with pytest.raises(InvalidRequestError, match="over the model's context of 8192 tokens.*max-frames"):
        chat(fp32, [Message("user", [VideoPart(frames, {"max_pixels": 400 * 256 * 256}), TextPart("Summarise.")])])
    assert fp32.engine.vision_cache.stats().misses == misses  # refused from the frame sizes, nothing encoded


def test_temporal_patches_encoded_as_slots_equal_the_whole_video_encoded_at_once(fp32, clip):
    """The claim engine/inputs.py rests on: patch i of a (t, h, w) video encodes like an image of grid (1, h, w)."""
    import torch

    engine = fp32.engine
    from vreason.engine.caches import VisionCache
    from vreason.engine.inputs import InputBuilder

    messages = fp32.aio.media.resolve([video_question(clip, "q", num_frames=6, min_frames=2)])
    prompt = build_prompt(engine.loaded.processor, messages, engine.budget, engine.video_budget)
    # an empty vision cache: patches are keyed by their frames, which other tests' samplings may share
    builder = InputBuilder(engine.loaded.model, engine.loaded.processor, VisionCache(256 << 20))
    inputs = builder.build(prompt, engine.budget.processor_size())
    slots = [s for s in inputs.images if s.video]
    model = transformers_twin(engine.loaded).model.model  # transformers' own video path is the claim's oracle
    with torch.inference_mode():
        apart = model.get_image_features(
            torch.cat([s.pixel_values for s in slots]), torch.tensor([s.grid_thw for s in slots]), return_dict=True
        )
        video = prompt.videos[0]
        out = engine.loaded.processor.video_processor(
            videos=[video.frames],
            do_sample_frames=False,
            do_resize=False,
            cap_pixels_per_frame=True,
            return_tensors="pt",
        )
        whole = model.get_video_features(out["pixel_values_videos"], out["video_grid_thw"], return_dict=True)
    assert len(slots) == 3
    assert torch.allclose(torch.cat(apart.pooler_output), whole.pooler_output[0], atol=1e-5)
    for a, w in zip(apart.deepstack_features, whole.deepstack_features, strict=True):
        assert torch.allclose(torch.cat(a), w[0], atol=1e-5)
