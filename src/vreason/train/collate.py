"""Turn conversations into training batches: the model's own chat template and processor, loss on the
assistant's tokens only (the answer and its <|im_end|>), everything else labelled -100.

Assistant spans are found in token space (after the processor has expanded image placeholders): from the
end of each `<|im_start|>assistant\\n` header to the next `<|im_end|>`, inclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from vreason.engine.prompt import chat_conversation
from vreason.errors import VReasonError
from vreason.media import MediaPolicy, PixelBudget
from vreason.train.dataset import DatasetError, Example

IGNORE = -100


class SFTCollator:
    def __init__(self, processor: Any, budget: PixelBudget, policy: MediaPolicy | None = None):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.budget = budget
        self.policy = policy or MediaPolicy()
        self.header = self.tokenizer("<|im_start|>assistant\n", add_special_tokens=False).input_ids
        self.im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.pad_id = self.tokenizer.pad_token_id

    def render(self, example: Example) -> tuple[str, list]:
        try:
            conversation, prepared = chat_conversation(example.messages, self.policy)
        except VReasonError as err:
            raise DatasetError(f"{example.where}: {err}") from None
        text = self.processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=False)
        return text, [self.budget.apply(p.image) for p in prepared]

    def __call__(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        texts, images = [], []
        for example in examples:
            text, example_images = self.render(example)
            texts.append(text)
            images.extend(example_images)
        kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if images:
            kwargs["images"] = images
            kwargs["images_kwargs"] = {"size": self.budget.processor_size()}
        self.tokenizer.padding_side = "right"
        batch = dict(self.processor(**kwargs))
        batch["labels"] = self.assistant_labels(batch["input_ids"], batch["attention_mask"])
        return batch

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
