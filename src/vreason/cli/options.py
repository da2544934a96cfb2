"""Options shared by the CLI commands, declared once, and the one function that turns them into a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from vreason.api import VReason

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Hub id, preset name (see `vreason models`) or local directory. "
                 "Default: the built-in demo model."),
]
DeviceOpt = Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N | mps")]
DtypeOpt = Annotated[str, typer.Option(help="auto | bfloat16 | float16 | float32")]
AdapterOpt = Annotated[
    str | None, typer.Option(help="LoRA adapter directory (from `vreason finetune --save-adapter`).")
]
QuantizeOpt = Annotated[str | None, typer.Option(help="4bit | 8bit (bitsandbytes, CUDA only)")]
MaxPixelsOpt = Annotated[
    int | None,
    typer.Option(help="Pixel budget per image. Default: the checkpoint's, capped at 1048576 (1024 visual tokens)."),
]
MinPixelsOpt = Annotated[
    int | None, typer.Option(help="Smaller images are upscaled to this many pixels. Default: the checkpoint's.")
]
TemperatureOpt = Annotated[float | None, typer.Option(help="0 = greedy. Default: Qwen's for the model kind.")]
TopPOpt = Annotated[float | None, typer.Option("--top-p")]
TopKOpt = Annotated[int | None, typer.Option("--top-k")]
MaxNewTokensOpt = Annotated[int | None, typer.Option("--max-new-tokens", help="Default 512 (2048 thinking).")]
RepetitionOpt = Annotated[float | None, typer.Option("--repetition-penalty")]
PresenceOpt = Annotated[float | None, typer.Option("--presence-penalty")]
FrequencyOpt = Annotated[float | None, typer.Option("--frequency-penalty")]
SeedOpt = Annotated[int | None, typer.Option(help="Seed for sampling (same seed, same answer).")]
StopOpt = Annotated[list[str] | None, typer.Option("--stop", help="Stop string (repeatable).")]
SystemOpt = Annotated[str | None, typer.Option(help="System prompt.")]


def sampling_kwargs(**values: Any) -> dict[str, Any]:
    """CLI option values to VReason sampling keywords; unset options keep the model's defaults."""
    out = {k: v for k, v in values.items() if v is not None}
    if "stop" in out:
        out["stop"] = tuple(out["stop"])
        if not out["stop"]:
            del out["stop"]
    return out


def open_model(model: str | None, device: str, dtype: str, quantize: str | None, min_pixels: int | None,
               max_pixels: int | None, adapter: str | None = None, backend: str = "local",
               upstream: list[str] | None = None, upstream_api_key: str | None = None) -> VReason:
    """The model on the chosen backend (see cli/backend_options.py): loaded here, or behind --upstream URLs."""
    from vreason.cli.backend_options import make_vreason

    return make_vreason(backend, upstream, upstream_api_key, model=model, device=device, dtype=dtype,
                        quantize=quantize, adapter=adapter, min_pixels=min_pixels, max_pixels=max_pixels)
