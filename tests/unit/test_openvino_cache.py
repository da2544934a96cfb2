"""The OpenVINO export cache under concurrency: two processes or threads asking for the same export at once
get one export, made once, and neither reads or deletes the other's half-written folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from vreason.engine.backends import openvino_export
from vreason.engine.backends.openvino_export import MANIFEST, cached_export


def test_two_callers_at_once_share_one_export(tmp_path, monkeypatch):
    exports: list[Path] = []

    def slow_export(model, out_dir, weights="fp16"):  # stands in for the 20-60 s export: files appear over time
        out = Path(out_dir)
        exports.append(out)
        out.mkdir(parents=True)
        (out / "graph.xml").write_text("half")
        time.sleep(0.3)  # the other caller arrives while this one writes
        (out / MANIFEST).write_text("{}")

    monkeypatch.setattr(openvino_export, "export_openvino", slow_export)
    results: list[Path] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(cached_export(None, tmp_path / "cache", "fp16"))
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    callers = [threading.Thread(target=ask) for _ in range(2)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(30)
    assert errors == []
    assert len(exports) == 1  # the second caller waited and found the first's export
    assert len(results) == 2
    assert results[0] == results[1]
    assert (results[0] / MANIFEST).is_file()
    assert not results[0].with_name(results[0].name + ".partial").exists()
    assert cached_export(None, tmp_path / "cache", "fp16") == results[0]  # and later calls reuse it
    assert len(exports) == 1
