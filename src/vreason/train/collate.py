"""Turn conversations and question groups into training batches: the model's own chat template and image
processor, loss on the assistant's tokens only (the answer and its <|im_end|>), everything else -100.

Videos take the engine's path: the media step (`MediaResolver.load_video`) samples and decodes each clip under
the checkpoint's video budget (`VideoBudget.from_processor`, as `LocalEngine` reads it), `engine/prompt.py`
writes its `<t seconds>` markers (`insert_video_text`, the function `build_prompt` calls), and the checkpoint's
video processor makes `pixel_values_videos` / `video_grid_thw` as the engine's input builder does. So a question
about a clip is token for token the prompt the engine builds for it (tests/integration/test_finetune_video.py).

A row is a *prefix* (the rendered text up to and including its images or clip) followed by *branches*. A plain
conversation is all prefix. A `QuestionGroup` (grouping.py) is the user turn up to its image or clip, then one
branch per question: the rest of that question's own single-turn rendering. Rows with branches get a 4D
attention mask (each branch sees the prefix and itself) and M-RoPE positions that restart after the prefix
for every branch; a batch of plain conversations keeps the ordinary 2D padding mask.

Assistant spans are found in token space (after image placeholders are expanded): from the end of each
`<|im_start|>assistant\\n` header to the next `<|im_end|>`, inclusive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from vreason.engine.prompt import (
    VIDEO_PAD,
    VISION_END,
    VISION_START,
    chat_conversation,
    conversation_videos,
    fit_video,
    insert_video_text,
)
from vreason.engine.types import Message, VideoPart
from vreason.errors import VReasonError
from vreason.media import MediaPolicy, PixelBudget, PreparedImage, PreparedVideo, load_image
from vreason.media.video_budget import VideoBudget
from vreason.media_step import MediaResolver
from vreason.train.dataset import DatasetError
from vreason.train.grouping import QuestionGroup, TrainItem

IGNORE = -100
PAD_SEGMENT = -1
PREFIX_SEGMENT = 0

# (input_ids (B, L), mm_token_type_ids (B, L), image_grid_thw (N, 3), attention_mask (B, L)) -> positions
# (3, B, L): the checkpoint's own M-RoPE layout, `model.model.get_rope_index` for Qwen3-VL.
RopeIndex = Callable[..., tuple[torch.Tensor, torch.Tensor]]


@dataclass
class RenderedRow:
    prefix: str  # chat-template text holding every image placeholder of the row
    branches: list[str] = field(default_factory=list)  # texts that follow the prefix, each on its own
    images: list[Any] = field(default_factory=list)  # PIL images resized to the pixel budget, in order
    videos: list[PreparedVideo] = field(default_factory=list)  # at the model's size, an even frame count each


class SFTCollator:
    def __init__(self, processor: Any, budget: PixelBudget, policy: MediaPolicy | None = None,
                 rope_index: RopeIndex | None = None):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.budget = budget
        self.policy = policy or MediaPolicy()
        self.rope_index = rope_index
        self.header = self.tokenizer("<|im_start|>assistant\n", add_special_tokens=False).input_ids
        self.im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.pad_id = self.tokenizer.pad_token_id
        self.image_token = processor.image_token
        self.image_token_id = self.tokenizer.convert_tokens_to_ids(self.image_token)
        self.merge = int(processor.image_processor.merge_size)
        self.video_token_id = self.tokenizer.convert_tokens_to_ids(VIDEO_PAD)
        self.video_budget = VideoBudget.from_processor(processor)
        self._media: MediaResolver | None = None  # made on first use, in the process that builds the batch

    def __getstate__(self) -> dict[str, Any]:
        # worker processes get their own media step (its decoded-clip cache holds a lock and frames)
        return {**self.__dict__, "_media": None}

    @property
    def media(self) -> MediaResolver:
        if self._media is None:
            self._media = MediaResolver(self.policy, max_images=None, cache=None, video_budget=self.video_budget)
        return self._media

    # -- text -------------------------------------------------------------------------------------------

    def _load(self, source: Any) -> PreparedImage:
        return load_image(source, self.policy)

    def render(self, item: TrainItem) -> RenderedRow:
        if isinstance(item, QuestionGroup):
            return self._render_group(item)
        try:
            messages = [self._with_videos_decoded(m) for m in item.messages]
            conversation, prepared = chat_conversation(messages, self._load)
        except VReasonError as err:
            raise DatasetError(f"{item.where}: {err}") from None
        text = self.processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=False)
        videos = [fit_video(v, self.video_budget) for v in conversation_videos(messages)]
        return RenderedRow(insert_video_text(text, videos), [], [self.budget.apply(p.image) for p in prepared], videos)

    def _with_videos_decoded(self, message: Message) -> Message:
        if not message.videos:
            return message
        parts = [VideoPart(self.media.load_video(p), p.sampling) if isinstance(p, VideoPart) else p
                 for p in message.content]
        return Message(message.role, parts)

    def _render_group(self, group: QuestionGroup) -> RenderedRow:
        first = group.examples[0]
        clip = isinstance(group.media, VideoPart)
        try:  # the shared image or clip, loaded once
            if clip:
                videos = [fit_video(v, self.video_budget)
                          for v in conversation_videos([self._with_videos_decoded(first.messages[0])])]
            else:
                _, prepared = chat_conversation(first.messages[:1], self._load)
        except VReasonError as err:
            raise DatasetError(f"{first.where}: {err}") from None
        texts = [
            self.processor.apply_chat_template(
                [{"role": "user", "content": [{"type": "video" if clip else "image"},
                                              {"type": "text", "text": question}]},
                 {"role": "assistant", "content": answer}],
                tokenize=False, add_generation_prompt=False,
            )
            for question, answer in group.questions()
        ]
        # a clip's placeholder is cut whole: insert_video_text replaces its start, pad and end together
        placeholder = VISION_START + VIDEO_PAD + VISION_END if clip else self.image_token
        cut = texts[0].index(placeholder) + len(placeholder)
        prefix = texts[0][:cut]
        if not all(t.startswith(prefix) for t in texts):
            raise AssertionError("the chat template renders the media differently for different questions")
        if clip:
            return RenderedRow(insert_video_text(prefix, videos), [t[cut:] for t in texts], [], videos)
        return RenderedRow(prefix, [t[cut:] for t in texts], [self.budget.apply(prepared[0].image)])

    # -- tensors ----------------------------------------------------------------------------------------

    def __call__(self, items: Sequence[TrainItem]) -> dict[str, torch.Tensor]:
        rows = [self.render(item) for item in items]
        images = [image for row in rows for image in row.images]
        batch: dict[str, torch.Tensor] = {}
        counts: list[int] = []
        if images:
            pixels = self.processor.image_processor(images=images, size=self.budget.processor_size(),
                                                    return_tensors="pt")
            batch["pixel_values"] = pixels["pixel_values"]
            batch["image_grid_thw"] = pixels["image_grid_thw"]
            counts = [int(g.prod()) // self.merge**2 for g in pixels["image_grid_thw"]]
        videos = [video for row in rows for video in row.videos]
        video_counts: list[int] = []  # tokens of each video's one temporal patch (all its patches are alike)
        if videos:
            batch.update(self.video_inputs(videos))
            video_counts = [int(g[1] * g[2]) // self.merge**2 for g in batch["video_grid_thw"].tolist()]
        sequences: list[list[int]] = []
        segments: list[list[int]] = []
        shifts: list[list[int]] = []  # per token: how far its linear position is past its branch's own
        cursor = video_cursor = 0
        for row in rows:
            patches = [n for v, n in zip(row.videos, video_counts[video_cursor:], strict=False)
                       for _ in range(v.num_frames // self.video_budget.temporal_patch)]
            ids = self._tokenize_prefix(row.prefix, counts[cursor : cursor + len(row.images)], patches)
            cursor += len(row.images)
            video_cursor += len(row.videos)
            segment = [PREFIX_SEGMENT] * len(ids)
            shift = [0] * len(ids)
            branched = 0
            for index, branch in enumerate(row.branches, start=1):
                branch_ids = self.tokenizer(branch, add_special_tokens=False).input_ids
                ids += branch_ids
                segment += [index] * len(branch_ids)
                shift += [branched] * len(branch_ids)
                branched += len(branch_ids)
            sequences.append(ids)
            segments.append(segment)
            shifts.append(shift)

        width = max(len(s) for s in sequences)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        segment_ids = torch.full((len(rows), width), PAD_SEGMENT, dtype=torch.long)
        shift_ids = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (ids, segment, shift) in enumerate(zip(sequences, segments, shifts, strict=True)):
            input_ids[r, : len(ids)] = torch.tensor(ids)
            segment_ids[r, : len(ids)] = torch.tensor(segment)
            shift_ids[r, : len(ids)] = torch.tensor(shift)
        padding_mask = (segment_ids != PAD_SEGMENT).long()
        batch["input_ids"] = input_ids
        batch["labels"] = self.assistant_labels(input_ids, padding_mask)
        if images or videos:  # the model's M-RoPE reads where image (1) and video (2) tokens are from these
            batch["mm_token_type_ids"] = self._token_types(input_ids)
        if any(row.branches for row in rows):
            batch["attention_mask"] = branch_attention_mask(segment_ids)
            batch["position_ids"] = self._branch_positions(batch, padding_mask, shift_ids)
        else:
            batch["attention_mask"] = padding_mask
        return batch

    def video_inputs(self, videos: Sequence[PreparedVideo]) -> dict[str, torch.Tensor]:
        """The checkpoint's video processor on frames already at the model's size, as the engine's input
        builder calls it (no resampling, no resizing): pixels of every video, one after another, and grids."""
        out = [self.processor.video_processor(videos=[v.frames], do_sample_frames=False, do_resize=False,
                                              cap_pixels_per_frame=True, return_tensors="pt") for v in videos]
        return {"pixel_values_videos": torch.cat([o["pixel_values_videos"] for o in out]),
                "video_grid_thw": torch.cat([o["video_grid_thw"] for o in out])}

    def _token_types(self, input_ids: torch.Tensor) -> torch.Tensor:
        return (input_ids == self.image_token_id).int() + 2 * (input_ids == self.video_token_id).int()

    def _tokenize_prefix(self, text: str, counts: list[int], patches: list[int] | None = None) -> list[int]:
        """Each image placeholder expanded to its image's tokens and each video patch's to the patch's."""
        pieces = re.split(f"({re.escape(self.image_token)}|{re.escape(VIDEO_PAD)})", text)
        queues = {self.image_token: iter(counts), VIDEO_PAD: iter(patches or [])}
        expanded = []
        for piece in pieces:
            if piece in queues:
                n = next(queues[piece], None)
                if n is None:
                    raise AssertionError(f"more {piece} placeholders than inputs")
                piece *= n
            expanded.append(piece)
        if any(next(rest, None) is not None for rest in queues.values()):
            raise AssertionError("fewer placeholders than images and video patches")
        return list(self.tokenizer("".join(expanded), add_special_tokens=False).input_ids)

    def _branch_positions(self, batch: dict[str, torch.Tensor], padding_mask: torch.Tensor,
                          shift_ids: torch.Tensor) -> torch.Tensor:
        if self.rope_index is None:
            raise ValueError("question groups need the model's M-RoPE index (SFTCollator(rope_index=...))")
        input_ids = batch["input_ids"]
        positions, _ = self.rope_index(input_ids, mm_token_type_ids=self._token_types(input_ids),
                                       image_grid_thw=batch.get("image_grid_thw"),
                                       video_grid_thw=batch.get("video_grid_thw"), attention_mask=padding_mask)
        # text after the image counts up by one per token on all three axes, so subtracting the tokens of the
        # earlier branches puts every branch where it would be alone
        return positions - shift_ids.unsqueeze(0)

    def assistant_labels(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        labels = torch.full_like(input_ids, IGNORE)
        header = self.header
        for row, ids in enumerate(input_ids.tolist()):
            i = 0
            while i < len(ids):
                if ids[i : i + len(header)] == header:
                    start = i + len(header)
                    end = start
                    while end < len(ids) and ids[end] != self.im_end:
                        end += 1
                    stop = min(end + 1, len(ids))  # learn to end the turn too
                    labels[row, start:stop] = input_ids[row, start:stop]
                    i = stop
                else:
                    i += 1
        labels[attention_mask == 0] = IGNORE
        return labels


def branch_attention_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """(B, L) segment ids -> (B, 1, L, L) boolean mask, True where a query may attend to a key.

    Causal; the prefix (segment 0) is seen by everyone, a branch only by itself. Padding (segment -1) sees
    only padding, so no query row is empty (an all-masked row gives NaN in softmax attention).
    """
    length = segment_ids.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    prefix = (segment_ids == PREFIX_SEGMENT)[:, None, :]
    return (causal & (same | prefix)).unsqueeze(1)
