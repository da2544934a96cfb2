"""Live sources with real files, no model: a clip decoded by PyAV in a thread (as fast as it decodes, or at
its own pace), a folder where PNGs arrive, a stream URL that never opens (clear error after its attempts)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import numpy as np
import pytest
from PIL import Image

from vreason.live import FileSource, FolderSource, RollingWindow, SourceError, StreamSource, open_source
from vreason.live.synthetic import Appearance, write_stream


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    schedule = [Appearance("circle", "red", 1.0, 2.0)]
    return write_stream(tmp_path_factory.mktemp("live") / "c.mp4", schedule, seconds=3, fps=8, size=64)


async def play(source, window) -> float:
    started = time.monotonic()
    await source.start(window, threading.Event())
    return time.monotonic() - started


def test_file_source_as_fast_as_decoded_and_in_real_time(clip):
    window = RollingWindow(10, 2)
    fast = asyncio.run(play(FileSource(clip), window))
    assert window.seen == 24
    assert [f.stream_time for f in window.frames] == [0.5 * i for i in range(6)]
    red = window.frames[2].image  # 1.0 s: the red circle is on screen (it takes green away)
    assert red[..., 1].mean() < window.frames[0].image[..., 1].mean()
    paced = asyncio.run(play(FileSource(clip, realtime=True), RollingWindow(10, 2)))
    assert paced >= 2.6  # the last frame is at 2.875 s
    assert fast < paced


def test_folder_source_reads_images_as_they_arrive(tmp_path):
    window = RollingWindow(10, 10)
    source = FolderSource(tmp_path, poll_s=0.05, idle_stop_s=0.6)
    staging = tmp_path.parent / f"{tmp_path.name}-staging"
    staging.mkdir()

    async def main():
        task = source.start(window, threading.Event())
        for i in range(4):
            # written and stamped beside the folder, then moved in whole (a rename keeps the time): a poll
            # between the write and the stamp would read the frame at the time of writing (seen under load)
            staged = staging / f"frame{i}.png"
            Image.fromarray(np.full((32, 32, 3), 60 * i, np.uint8)).save(staged)
            stamp = 1_000_000 + i * 0.5
            os.utime(staged, (stamp, stamp))
            os.replace(staged, tmp_path / staged.name)
            await asyncio.sleep(0.15)
        (tmp_path / "notes.txt").write_text("not a frame")
        await task

    asyncio.run(main())
    assert [f.stream_time for f in window.frames] == [0.0, 0.5, 1.0, 1.5]
    assert [int(f.image[0, 0, 0]) for f in window.frames] == [0, 60, 120, 180]


def test_open_source_picks_by_form(clip, tmp_path):
    assert isinstance(open_source(str(clip)), FileSource)
    assert isinstance(open_source(str(tmp_path)), FolderSource)
    assert isinstance(open_source("rtsp://127.0.0.1:9/x"), StreamSource)
    assert isinstance(open_source("/dev/video7"), StreamSource)
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "missing.mp4"))


def test_a_stream_that_never_opens_is_a_clear_error():
    source = StreamSource("rtsp://127.0.0.1:9/nothing", attempts=3, backoff_s=0.05, timeout_s=2)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"^source rtsp://127.0.0.1:9/nothing: could not open after 3 attempts \("):
        asyncio.run(play(source, RollingWindow(2, 2)))
    assert time.monotonic() - started < 10
    assert source.failures == 3


def test_growing_file_is_read_as_it_is_written(tmp_path):
    """An MPEG-TS recording written frame by frame while the source follows it: every frame arrives once."""
    import av

    from vreason.live import GrowingFileSource
    from vreason.live.synthetic import scene_at

    path = tmp_path / "recording.ts"
    schedule = [Appearance("circle", "red", 1.0, 2.0)]

    def record() -> None:
        with av.open(str(path), "w", format="mpegts", options={"flush_packets": "1"}) as container:
            stream = container.add_stream("mpeg2video", rate=8)
            stream.width = stream.height = 64
            stream.pix_fmt = "yuv420p"
            for i in range(24):
                frame = av.VideoFrame.from_ndarray(scene_at(i / 8, schedule, 64), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
                time.sleep(0.05)
            for packet in stream.encode():
                container.mux(packet)
        return time.time()

    window = RollingWindow(10, 8)

    async def main():
        writer = asyncio.create_task(asyncio.to_thread(record))
        await GrowingFileSource(path, poll_s=0.1, idle_stop_s=1.0).start(window, threading.Event())
        return await writer

    finished = asyncio.run(main())
    times = [f.stream_time for f in window.frames]
    assert times == pytest.approx([i / 8 for i in range(24)])
    assert window.seen == 24
    assert window.frames[0].wall_time < finished - 0.5  # read while the recording was still being written
