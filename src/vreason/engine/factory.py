"""The one way to build an `Engine`: `build_engine(EngineSpec(...))`, for `VReason`, the CLI commands and the server.

`EngineSpec` says what to run and where: `backend="local"` loads the checkpoint into this process (`LocalEngine`),
`backend="openai"` sends requests to OpenAI-compatible upstreams (`vreason serve`, vLLM, DashScope's compatible
mode) through `RemoteEngine`, `backend="openvino"` runs an OpenVINO export (`vreason export openvino`) on the CPU
through `OpenVINOEngine`. The spec is checked when it is made, so a wrong combination fails before a model
loads. Importing this module is cheap: torch and transformers are imported only when a local engine is built.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy, PixelBudget
from vreason.media.policy import DEFAULT_MAX_IMAGES_PER_REQUEST
from vreason.models.loader import LoadedModel, LoadSpec
from vreason.models.placement import DEVICES, DTYPES

if TYPE_CHECKING:
    from vreason.engine.backends import RemoteEngine
    from vreason.engine.backends.openvino import OpenVINOEngine
    from vreason.engine.interface import Engine
    from vreason.engine.local_engine import LocalEngine

logger = logging.getLogger("vreason")

BackendKind = Literal["local", "openai", "openvino"]
BACKENDS: tuple[str, ...] = get_args(BackendKind)
MODEL_CODES = ("auto", "transformers")


@dataclass(frozen=True)
class EngineSpec:
    backend: BackendKind = "local"
    # local: hub id, preset name or directory (None: the built-in demo model);
    # openai: the model the upstreams serve (None: the first one they list)
    model: str | None = None
    # Loading settings: only the local backend has them (an upstream server decides its own).
    device: str = "auto"
    dtype: str = "auto"
    quantize: str | None = None  # "4bit" | "8bit"
    adapter: str | None = None  # LoRA adapter directory, merged after loading
    # Pixel bounds per image over the default budget (the checkpoint's, locally); None keeps the default.
    min_pixels: int | None = None
    max_pixels: int | None = None
    media_policy: MediaPolicy | None = None  # what media requests may load; None: MediaPolicy()'s closed defaults
    max_images_per_request: int | None = DEFAULT_MAX_IMAGES_PER_REQUEST  # None: no limit
    upstreams: Sequence[str] = ()  # openai: http(s) URLs, balanced over
    upstream_api_key: str | None = None  # openai: sent as `Authorization: Bearer` to every upstream
    # openai: further `RemoteConfig` settings (timeouts, retries, health, thinking, image_format, ...)
    remote_options: Mapping[str, Any] = field(default_factory=dict)
    # local: an edge preset's serving bounds (models/presets.py EDGE_PRESETS): threads = physical cores, its
    # batch, KV, prefill and queue limits, smaller vision and prefix caches. Its model, quantization and pixel
    # cap are filled into the fields above by whoever reads the options (cli/options.py engine_spec).
    preset: str | None = None
    # local: "auto" serves with vreason's own Qwen3-VL code where it computes the checkpoint exactly (no
    # transformers import at start; models/native), else transformers'; "transformers" always takes transformers'.
    model_code: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.upstreams, str):  # one URL given bare: a str is a Sequence of characters
            object.__setattr__(self, "upstreams", (self.upstreams,))
        object.__setattr__(self, "upstreams", tuple(self.upstreams))
        if self.backend not in BACKENDS:
            raise InvalidRequestError(
                f"backend ({self.backend!r}) must be one of {', '.join(BACKENDS)}", param="backend"
            )
        if self.max_images_per_request is not None and self.max_images_per_request < 1:
            raise InvalidRequestError(
                f"max_images_per_request ({self.max_images_per_request}) must be >= 1 (None: no limit)",
                param="max_images_per_request",
            )
        PixelBudget().updated(self.min_pixels, self.max_pixels)  # raises on non-integers and crossed bounds
        if self.backend == "local":
            self._check_local()
        elif self.backend == "openvino":
            self._check_openvino()
        else:
            self._check_remote()

    def _check_local(self) -> None:
        if self.upstreams:
            raise InvalidRequestError(
                f"upstreams ({', '.join(self.upstreams)}) need backend 'openai' (--backend openai)", param="upstream"
            )
        if self.remote_options:
            raise InvalidRequestError(
                f"remote_options ({', '.join(self.remote_options)}) only apply to backend 'openai'",
                param="remote_options",
            )
        if self.preset is not None:
            from vreason.models.presets import find_edge_preset

            find_edge_preset(self.preset)  # an unknown name fails here, before loading
        if self.device.split(":", 1)[0] not in DEVICES:
            raise InvalidRequestError(
                f"device ({self.device!r}) must be one of {', '.join(DEVICES)} (or cuda:N)", param="device"
            )
        if self.dtype not in DTYPES:
            raise InvalidRequestError(f"dtype ({self.dtype!r}) must be one of {', '.join(DTYPES)}", param="dtype")
        if self.model_code not in MODEL_CODES:
            raise InvalidRequestError(
                f"model_code ({self.model_code!r}) must be one of {', '.join(MODEL_CODES)}", param="model_code"
            )
        self.load_spec()  # LoadSpec checks the quantization

    def _check_remote(self) -> None:
        if not self.upstreams:
            raise InvalidRequestError(
                "backend 'openai' needs at least one upstream URL (--upstream http://host:8000/v1)", param="upstream"
            )
        local_only = {
            "device": None if self.device == "auto" else self.device,
            "dtype": None if self.dtype == "auto" else self.dtype,
            "quantize": self.quantize,
            "adapter": self.adapter,
            "preset": self.preset,
        }
        given = [f"{name} ({value!r})" for name, value in local_only.items() if value is not None]
        if given:
            raise InvalidRequestError(
                f"{', '.join(given)}: only backend 'local' loads a model; the upstream server decides these",
                param="backend",
            )

    def _check_openvino(self) -> None:
        if not self.model:
            raise InvalidRequestError(
                "backend 'openvino' needs --model DIR, a directory made by `vreason export openvino MODEL --to DIR`",
                param="model",
            )
        fixed = {
            "device": None if self.device in ("auto", "cpu") else self.device,
            "dtype": None if self.dtype == "auto" else self.dtype,
            "quantize": self.quantize,
            "adapter": self.adapter,
            "upstreams": ", ".join(self.upstreams) or None,
            "remote_options": ", ".join(self.remote_options) or None,
        }
        given = [f"{name} ({value!r})" for name, value in fixed.items() if value is not None]
        if given:
            raise InvalidRequestError(
                f"{', '.join(given)}: not for backend 'openvino', which runs on the CPU with the weights its export "
                "chose (`vreason export openvino --weights fp16|int8|int4`)",
                param="backend",
            )

    def load_spec(self) -> LoadSpec:
        return LoadSpec(
            model=self.model, device=self.device, dtype=self.dtype, quantize=self.quantize, adapter=self.adapter,
            native=self.model_code == "auto",
        )


def build_engine(spec: EngineSpec) -> Engine:
    """The engine `spec` describes, ready for requests (a local one has loaded its model)."""
    if spec.backend == "openai":
        return build_remote_engine(spec)
    if spec.backend == "openvino":
        return build_openvino_engine(spec)
    return build_local_engine(spec)


def build_local_engine(spec: EngineSpec) -> LocalEngine:
    """Loads the checkpoint (seconds to minutes); torch and transformers are imported here."""
    from vreason.models.loader import load_model

    return build_local_engine_from(spec, load_model(spec.load_spec()))


def build_local_engine_from(spec: EngineSpec, loaded: LoadedModel) -> LocalEngine:
    """A local engine over an already loaded checkpoint (the loading settings of `spec` are not used again)."""
    from vreason.engine.cache_budget import cache_budgets
    from vreason.engine.local_engine import EngineConfig, LocalEngine
    from vreason.media import checkpoint_budget
    from vreason.models.demo import demo_notice

    if loaded.is_demo:
        logger.warning(demo_notice())
    config = EngineConfig(
        policy=spec.media_policy or MediaPolicy(),
        budget=checkpoint_budget(loaded.processor).updated(spec.min_pixels, spec.max_pixels),
        max_images_per_request=spec.max_images_per_request,
    )
    # The caches hold as many tokens whatever the model; the engine's byte defaults are the ceilings.
    dtype_bytes = next(loaded.model.parameters()).element_size()
    budgets = cache_budgets(loaded.model.config, dtype_bytes, config.prefix_cache_bytes, config.vision_cache_bytes)
    config.prefix_cache_bytes = budgets.prefix_bytes
    config.vision_cache_bytes = budgets.vision_bytes
    if spec.preset is not None:
        apply_edge_bounds(config, spec.preset)
    return LocalEngine(loaded, config)


def apply_edge_bounds(config: Any, preset_name: str) -> None:
    """An edge preset's bounds on an `EngineConfig` (and threads = physical cores), so that RSS under load
    stays near the preset's stated memory: the caches and the running and queued requests are what grow."""
    import torch

    from vreason.engine.scheduler import SchedulerConfig
    from vreason.models.placement import physical_cores
    from vreason.models.presets import find_edge_preset

    edge = find_edge_preset(preset_name)
    mib = 1 << 20
    config.vision_cache_bytes = min(config.vision_cache_bytes, edge.vision_cache_mib * mib)
    config.prefix_cache_bytes = min(config.prefix_cache_bytes, edge.prefix_cache_mib * mib)
    config.scheduler = SchedulerConfig(
        max_batch_size=edge.max_batch_size, max_kv_tokens=edge.max_kv_tokens,
        max_prefill_tokens=edge.max_prefill_tokens, max_waiting=edge.max_waiting,
    )
    torch.set_num_threads(physical_cores())
    logger.info("edge preset %s: %d threads, batch %d, queue %d, KV %d tokens, caches %d + %d MiB", edge.name,
                torch.get_num_threads(), edge.max_batch_size, edge.max_waiting, edge.max_kv_tokens,
                edge.vision_cache_mib, edge.prefix_cache_mib)


def build_remote_engine(spec: EngineSpec) -> RemoteEngine:
    """Asks the upstreams for their model when `spec.model` is None; otherwise no I/O until the first request."""
    from vreason.engine.backends import RemoteConfig, RemoteEngine

    config = RemoteConfig(
        upstreams=list(spec.upstreams),
        api_key=spec.upstream_api_key,
        model=spec.model,
        policy=spec.media_policy or MediaPolicy(),
        budget=PixelBudget().updated(spec.min_pixels, spec.max_pixels),
        max_images_per_request=spec.max_images_per_request,
        **spec.remote_options,
    )
    return RemoteEngine(config)


def build_openvino_engine(spec: EngineSpec) -> OpenVINOEngine:
    """Compiles the export's graphs for the CPU (seconds); openvino is imported here."""
    from vreason.engine.backends.openvino import OpenVINOConfig, OpenVINOEngine
    from vreason.engine.backends.openvino_export import read_manifest

    assert spec.model is not None  # checked by EngineSpec
    read_manifest(spec.model)  # a missing or foreign directory fails in one line before openvino loads
    config = OpenVINOConfig(
        policy=spec.media_policy or MediaPolicy(),
        min_pixels=spec.min_pixels,
        max_pixels=spec.max_pixels,
        max_images_per_request=spec.max_images_per_request,
    )
    return OpenVINOEngine(spec.model, config)
