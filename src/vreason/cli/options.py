"""The options many commands share, each declared once, in three groups (see cli/option_groups.py):

- `LoadingOptions` (help panel "Model"): which checkpoint and how it is loaded, and the pixel budget per image.
- `SamplingOptions` ("Sampling"): overrides of Qwen's sampling defaults; unset ones keep the model's.
- `BackendOptions` ("Backend"): where the tokens come from, `--backend local` (load the model in this process)
  or `--backend openai --upstream URL [--upstream URL ...] [--upstream-api-key KEY]` (OpenAI-compatible
  servers: `vreason serve`, `vreason vllm-launch`, DashScope's compatible mode).

A command takes a group as one parameter (`loading: LoadingOptions`) or some of its fields
(`Annotated[SamplingOptions, Fields("temperature", "seed")]`); a new option is one field here. `engine_spec`
turns the groups into the `EngineSpec` that `vreason.engine.factory.build_engine` builds, and `open_model`
into the `VReason` the commands drive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer

from vreason.cli.option_groups import Fields

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.engine.factory import EngineSpec

__all__ = ["BackendOptions", "Fields", "LoadingOptions", "SamplingOptions", "engine_spec", "open_model"]


@dataclass(frozen=True)
class LoadingOptions:
    help_panel: ClassVar[str] = "Model"

    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Hub id, preset name (see `vreason models`) or local directory. "
                     "Default: the built-in demo model."),
    ] = None
    max_pixels: Annotated[
        int | None,
        typer.Option(help="Pixel budget per image. Default: the checkpoint's, capped at 1048576 (1024 visual tokens)."),
    ] = None
    min_pixels: Annotated[
        int | None, typer.Option(help="Smaller images are upscaled to this many pixels. Default: the checkpoint's.")
    ] = None
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N | mps")] = "auto"
    dtype: Annotated[str, typer.Option(help="auto | bfloat16 | float16 | float32")] = "auto"
    quantize: Annotated[str | None, typer.Option(help="4bit | 8bit (bitsandbytes, CUDA only)")] = None
    adapter: Annotated[
        str | None, typer.Option(help="LoRA adapter directory (from `vreason finetune --save-adapter`).")
    ] = None


@dataclass(frozen=True)
class SamplingOptions:
    help_panel: ClassVar[str] = "Sampling"

    temperature: Annotated[float | None, typer.Option(help="0 = greedy. Default: Qwen's for the model kind.")] = None
    top_p: Annotated[float | None, typer.Option("--top-p")] = None
    top_k: Annotated[int | None, typer.Option("--top-k")] = None
    max_new_tokens: Annotated[int | None, typer.Option("--max-new-tokens", help="Default 512 (2048 thinking).")] = None
    repetition_penalty: Annotated[float | None, typer.Option("--repetition-penalty")] = None
    presence_penalty: Annotated[float | None, typer.Option("--presence-penalty")] = None
    frequency_penalty: Annotated[float | None, typer.Option("--frequency-penalty")] = None
    seed: Annotated[int | None, typer.Option(help="Seed for sampling (same seed, same answer).")] = None
    stop: Annotated[list[str] | None, typer.Option("--stop", help="Stop string (repeatable).")] = None

    def overrides(self) -> dict[str, Any]:
        """The options given, as VReason sampling keywords, checked against SamplingParams' ranges (so a bad
        value fails before a model loads); unset ones are left out and keep the model's defaults."""
        from vreason.engine.sampling import SamplingParams

        out = {name: value for name, value in vars(self).items() if value is not None}
        if "stop" in out:
            out["stop"] = tuple(out["stop"])
            if not out["stop"]:
                del out["stop"]
        SamplingParams().updated(**out)
        return out


@dataclass(frozen=True)
class BackendOptions:
    help_panel: ClassVar[str] = "Backend"

    backend: Annotated[
        str,
        typer.Option("--backend", envvar="VREASON_BACKEND",
                     help="local: run the model here. openai: send requests to the --upstream servers."),
    ] = "local"
    upstream: Annotated[
        list[str] | None,
        typer.Option("--upstream", envvar="VREASON_UPSTREAM", help="OpenAI-compatible server URL, e.g. "
                     "http://10.0.0.5:8000/v1 (repeat to balance over several)."),
    ] = None
    upstream_api_key: Annotated[
        str | None,
        typer.Option("--upstream-api-key", envvar="VREASON_UPSTREAM_API_KEY",
                     help="Bearer key for the upstreams (env VREASON_UPSTREAM_API_KEY)."),
    ] = None


# Subsets some commands take (the others take a whole group).
ShortSampling = Annotated[SamplingOptions, Fields("temperature", "max_new_tokens", "seed")]
LengthOnly = Annotated[SamplingOptions, Fields("max_new_tokens")]
SystemOpt = Annotated[str | None, typer.Option(help="System prompt.")]


def engine_spec(loading: LoadingOptions, backend: BackendOptions | None = None, **extra: Any) -> EngineSpec:
    """What the options ask to build; checked here, so bad flags fail before a model loads. `extra`: further
    `EngineSpec` fields a command sets itself (media_policy, max_images_per_request)."""
    from vreason.engine.factory import EngineSpec

    backend = backend or BackendOptions()
    return EngineSpec(
        backend=backend.backend,  # type: ignore[arg-type]  (EngineSpec names the choices in its message)
        model=loading.model, device=loading.device, dtype=loading.dtype, quantize=loading.quantize,
        adapter=loading.adapter, min_pixels=loading.min_pixels, max_pixels=loading.max_pixels,
        upstreams=tuple(backend.upstream or ()), upstream_api_key=backend.upstream_api_key, **extra,
    )


def open_model(spec: EngineSpec) -> VReason:
    """The model on the chosen backend, loaded here or behind the upstreams, driven through `VReason`."""
    from vreason.api import VReason
    from vreason.engine.factory import build_engine

    return VReason(engine=build_engine(spec))
