"""`EngineSpec` refuses what cannot be built before anything loads; `build_engine` builds the backend it names.

No model and no upstream is needed: a remote engine with its model named does no I/O until a request.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from vreason.engine.factory import EngineSpec, build_engine
from vreason.engine.interface import Engine
from vreason.errors import InvalidRequestError
from vreason.media import MediaPolicy

UPSTREAM = "http://127.0.0.1:9/v1"  # nothing listens there; building must not connect


def test_unknown_backend_is_named_with_the_choices():
    with pytest.raises(InvalidRequestError, match=r"backend \('vllm'\) must be one of local, openai"):
        EngineSpec(backend="vllm")  # type: ignore[arg-type]


def test_openai_backend_needs_an_upstream():
    with pytest.raises(InvalidRequestError, match="needs at least one upstream URL"):
        EngineSpec(backend="openai")


def test_upstreams_need_the_openai_backend():
    with pytest.raises(InvalidRequestError, match=r"upstreams \(http://127.0.0.1:9/v1\) need backend 'openai'"):
        EngineSpec(upstreams=[UPSTREAM])


def test_loading_settings_are_refused_for_a_remote_backend():
    with pytest.raises(InvalidRequestError, match=r"quantize \('4bit'\), adapter \('lora/'\): only backend 'local'"):
        EngineSpec(backend="openai", upstreams=[UPSTREAM], quantize="4bit", adapter="lora/")


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("device", "gpu", "device ('gpu') must be one of auto, cpu, cuda, mps"),
        ("dtype", "fp8", "dtype ('fp8') must be one of auto, bfloat16, float16, float32"),
        ("quantize", "3bit", "quantize ('3bit') must be one of 4bit, 8bit"),
        ("max_images_per_request", 0, "max_images_per_request (0) must be >= 1"),
        ("min_pixels", 10, "min_pixels (10) must be at least 1024"),
    ],
)
def test_bad_local_settings_fail_at_construction_with_the_value(field, value, needle):
    with pytest.raises(InvalidRequestError) as caught:
        EngineSpec(**{field: value})
    assert needle in str(caught.value)


def test_crossed_pixel_bounds_are_refused():
    with pytest.raises(InvalidRequestError, match=r"max_pixels \(2048\) must be >= min_pixels \(4096\)"):
        EngineSpec(min_pixels=4096, max_pixels=2048)


def test_a_single_upstream_string_is_one_url():
    assert EngineSpec(backend="openai", upstreams=UPSTREAM).upstreams == (UPSTREAM,)


def test_remote_options_only_for_the_openai_backend():
    with pytest.raises(InvalidRequestError, match=r"remote_options \(max_retries\) only apply"):
        EngineSpec(remote_options={"max_retries": 0})


def test_openai_backend_builds_a_remote_engine_with_the_spec_settings():
    policy = MediaPolicy(allow_private_urls=True)
    spec = EngineSpec(backend="openai", model="served-model", upstreams=[UPSTREAM], upstream_api_key="k",
                      max_pixels=200_000, media_policy=policy, max_images_per_request=3,
                      remote_options={"max_retries": 0})
    engine = build_engine(spec)
    assert isinstance(engine, Engine)
    assert engine.model_name == "served-model"
    assert engine.budget.max_pixels == 200_000
    assert engine.policy is policy
    assert engine.max_images_per_request == 3
    assert engine.config.max_retries == 0  # type: ignore[attr-defined]
    assert engine.config.api_key == "k"  # type: ignore[attr-defined]


def test_importing_the_factory_loads_neither_torch_nor_transformers():
    code = "import sys, vreason.engine.factory; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
