"""The options many commands share, each declared once, in three groups (see cli/option_groups.py):

- `LoadingOptions` (help panel "Model"): which checkpoint and how it is loaded, and the pixel budget per image.
- `SamplingOptions` ("Sampling"): overrides of Qwen's sampling defaults; unset ones keep the model's.
- `BackendOptions` ("Backend"): where the tokens come from, `--backend local` (load the model in this process),
  `--backend openvino --model DIR` (an OpenVINO export, on the CPU) or `--backend openai --upstream URL
  [--upstream URL ...] [--upstream-api-key KEY]` (OpenAI-compatible servers: `vreason serve`,
  `vreason vllm-launch`, DashScope's compatible mode).
- `MediaUrlOptions` ("Media"): which image URLs may be fetched, `--allow-private-media-urls` (loopback and
  private networks, refused by default) and `--allowed-media-domains HOST` (only these hosts).
- `VideoOptions` ("Video"): how frames are sampled from a video input (`--fps`, `--num-frames`,
  `--min-frames`, `--max-frames`, `--start`, `--end`, `--video-max-pixels`), all usable together; checked by
  `VideoSampling` before a model loads.

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
    from vreason.media import MediaPolicy

__all__ = [
    "BackendOptions", "Fields", "LoadingOptions", "MediaUrlOptions", "SamplingOptions", "VideoOptions", "engine_spec",
    "open_model",
]


@dataclass(frozen=True)
class LoadingOptions:
    help_panel: ClassVar[str] = "Model"

    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Hub id, short name (qwen3-vl-8b; see `vreason models`) or local directory. "
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
    quantize: Annotated[
        str | None,
        typer.Option(help="int8 | int4: torchao weight-only on CPU (int4 runs in bfloat16). 4bit | 8bit: "
                     "bitsandbytes, CUDA only. A `vreason quantize` directory loads as stored."),
    ] = None
    adapter: Annotated[
        str | None, typer.Option(help="LoRA adapter directory (from `vreason finetune --save-adapter`).")
    ] = None
    preset: Annotated[
        str | None,
        typer.Option(help="edge (= edge-2b-int4) | edge-2b-int8 | edge-4b-int4 | edge-4b-int8: a small model with "
                     "int4/int8 weights on CPU, 512x512 pixel cap, threads = physical cores, bounded caches and "
                     "queue (`vreason models`); --model, --quantize, --max-pixels override its choices."),
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
                     help="local: run the model here. openai: send requests to the --upstream servers. "
                     "openvino: run an OpenVINO export (--model DIR from `vreason export openvino`) on the CPU."),
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


@dataclass(frozen=True)
class MediaUrlOptions:
    help_panel: ClassVar[str] = "Media"

    allowed_media_domains: Annotated[
        list[str] | None,
        typer.Option("--allowed-media-domains", help="Only fetch image URLs from these hosts (repeatable or "
                     "comma-separated; subdomains included)."),
    ] = None
    allow_private_media_urls: Annotated[
        bool,
        typer.Option("--allow-private-media-urls", help="Let image URLs reach loopback and private networks "
                     "(an image store on the LAN); pair with --allowed-media-domains."),
    ] = False

    def domains(self) -> tuple[str, ...]:
        """The host names given, split at commas, lower-cased."""
        values = self.allowed_media_domains or ()
        return tuple(d.strip().lower() for value in values for d in value.split(",") if d.strip())

    def policy(self, base: MediaPolicy | None = None) -> MediaPolicy:
        """`base` (a person's own defaults: local files allowed) with these URL rules."""
        from dataclasses import replace

        from vreason.media import MediaPolicy

        return replace(base or MediaPolicy(), allow_private_urls=self.allow_private_media_urls,
                       allowed_domains=self.domains())


@dataclass(frozen=True)
class VideoOptions:
    help_panel: ClassVar[str] = "Video"

    fps: Annotated[
        float | None, typer.Option(help="Frames sampled per second of video. Default: the checkpoint's (2).")
    ] = None
    num_frames: Annotated[
        int | None, typer.Option("--num-frames", help="Sample exactly this many frames (overrides --fps).")
    ] = None
    min_frames: Annotated[
        int | None, typer.Option("--min-frames", help="At least this many frames (default 4).")
    ] = None
    max_frames: Annotated[
        int | None,
        typer.Option("--max-frames", help="At most this many frames; a long clip gets a lower rate (default 768)."),
    ] = None
    start: Annotated[float | None, typer.Option(help="Start of the part of the video to watch, in seconds.")] = None
    end: Annotated[float | None, typer.Option(help="End of the part of the video to watch, in seconds.")] = None
    video_max_pixels: Annotated[
        int | None,
        typer.Option("--video-max-pixels", help="Pixel budget over all sampled frames of a video. Default: the "
                     "checkpoint's, capped at 8388608 (4096 video tokens)."),
    ] = None

    def sampling(self):
        """The options as a `VideoSampling` (bad values and combinations fail here, before a model loads)."""
        from vreason.media.video_types import VideoSampling

        return VideoSampling(
            fps=self.fps, num_frames=self.num_frames, min_frames=self.min_frames, max_frames=self.max_frames,
            start=self.start, end=self.end, max_pixels=self.video_max_pixels,
        )

    def given(self) -> bool:
        return any(value is not None for value in vars(self).values())


# Subsets some commands take (the others take a whole group).
ShortSampling = Annotated[SamplingOptions, Fields("temperature", "max_new_tokens", "seed")]
LengthOnly = Annotated[SamplingOptions, Fields("max_new_tokens")]
SystemOpt = Annotated[str | None, typer.Option(help="System prompt.")]
CloudViewsOpt = Annotated[
    str | None,
    typer.Option("--views", help="Point-cloud inputs: the views each becomes, comma separated: bev (top-down, the "
                 "default), front, side, persp."),
]


def engine_spec(loading: LoadingOptions, backend: BackendOptions | None = None, **extra: Any) -> EngineSpec:
    """What the options ask to build; checked here, so bad flags fail before a model loads. `extra`: further
    `EngineSpec` fields a command sets itself (media_policy, max_images_per_request)."""
    from vreason.engine.factory import EngineSpec

    backend = backend or BackendOptions()
    model, quantize, max_pixels = loading.model, loading.quantize, loading.max_pixels
    if loading.preset is not None:  # the preset's choices, under what was given explicitly
        from vreason.models.presets import find_edge_preset

        edge = find_edge_preset(loading.preset)
        model, quantize = model or edge.model, quantize or edge.quantize
        max_pixels = max_pixels or edge.max_pixels
    return EngineSpec(
        backend=backend.backend,  # type: ignore[arg-type]  (EngineSpec names the choices in its message)
        model=model, device=loading.device, dtype=loading.dtype, quantize=quantize,
        adapter=loading.adapter, min_pixels=loading.min_pixels, max_pixels=max_pixels,
        upstreams=tuple(backend.upstream or ()), upstream_api_key=backend.upstream_api_key,
        preset=loading.preset, **extra,
    )


def open_model(spec: EngineSpec) -> VReason:
    """The model on the chosen backend, loaded here or behind the upstreams, driven through `VReason`; a spinner
    on stderr says what is loading while it does (only on a terminal, see `cli/progress.py`)."""
    from vreason.api import VReason
    from vreason.cli.progress import loading_status
    from vreason.engine.factory import build_engine

    with loading_status(describe_loading(spec)):
        return VReason(engine=build_engine(spec))


def describe_loading(spec: EngineSpec) -> str:
    """What `open_model` is doing, in words, for the spinner."""
    if spec.backend == "openai":
        where = ", ".join(spec.upstreams)
        return f"connecting to {where} ({spec.model})" if spec.model else f"asking {where} for its model"
    if spec.backend == "openvino":
        return f"compiling the OpenVINO export {spec.model} ..."
    name = spec.model or "the built-in demo model"
    extras = [f"device {spec.device}"] if spec.device != "auto" else []
    extras += [f"{spec.quantize} quantized"] if spec.quantize else []
    extras += [f"adapter {spec.adapter}"] if spec.adapter else []
    return f"loading {name}" + (f" ({', '.join(extras)})" if extras else "") + " ..."
