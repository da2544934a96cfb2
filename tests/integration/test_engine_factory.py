"""`build_engine` on the local backend: the checkpoint loaded in this process, with the spec's limits, and the
same engine `VReason(...)` builds for itself."""

from __future__ import annotations

import pytest

from vreason.engine.factory import EngineSpec, build_engine
from vreason.engine.interface import Engine


@pytest.fixture(scope="module")
def local_engine(tiny_model_dir):
    engine = build_engine(EngineSpec(model=str(tiny_model_dir), device="cpu", max_pixels=65536,
                                     max_images_per_request=2))
    yield engine
    from vreason.engine.sync_bridge import SyncBridge

    bridge = SyncBridge()
    bridge.run(engine.close())
    bridge.close()


def test_local_backend_loads_the_checkpoint_with_the_spec_limits(local_engine, tiny_model_dir):
    assert isinstance(local_engine, Engine)
    assert local_engine.loaded.source == str(tiny_model_dir)
    assert local_engine.budget.max_pixels == 65536
    assert local_engine.max_images_per_request == 2


def test_vreason_keeps_the_loaded_checkpoint_of_the_engine_it_builds(vr):
    from vreason.engine.local_engine import LocalEngine

    assert isinstance(vr.engine, LocalEngine)
    assert vr.loaded is vr.engine.loaded  # tests, fine-tuning and the UI's demo notice reach the model here
    assert vr.engine.max_images_per_request == 16
