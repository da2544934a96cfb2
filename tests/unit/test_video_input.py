"""Reading and decoding clips (media/video_input.py, media/video_decode.py) on real files encoded here with PyAV:
containers and codecs, sources (path, bytes, data URI, http URL under the policy), real presentation times
(variable frame rate included), seeking equal to decoding everything, frame lists, and one-line errors."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.video_samples import frame_picture, make_audio_only, make_clip
from vreason.engine.types import Message, VideoPart
from vreason.errors import InvalidRequestError, MediaError
from vreason.media import MediaPolicy
from vreason.media.video_budget import VideoBudget
from vreason.media.video_decode import decode_frames, index_clip
from vreason.media.video_input import decode_video, load_frames, looks_like_video, read_video
from vreason.media.video_types import VideoSampling
from vreason.media_step import MediaResolver

POLICY = MediaPolicy()
BUDGET = VideoBudget()


def load(source, policy=POLICY, **options):
    return decode_video(read_video(source, policy), VideoSampling(**options), BUDGET, policy)


@pytest.mark.parametrize(
    ("name", "codec"),
    [("a.mp4", "libx264"), ("a.webm", "libvpx-vp9"), ("a.mkv", "libx264"), ("a.mov", "libx264"), ("a.gif", "gif")],
)
def test_containers_and_codecs_decode_with_their_times(tmp_path, name, codec):
    path = make_clip(tmp_path / name, 64, 48, frames=20, fps=10, codec=codec)
    video = load(path)
    assert video.num_frames == 4  # 2 s at 2 fps
    assert video.timestamps[0] == 0.0
    assert video.timestamps[-1] == pytest.approx(1.9)
    assert video.original_size == (64, 48)
    width, height = video.size
    assert width % 32 == 0
    assert height % 32 == 0
    assert video.source_fps == pytest.approx(10.0)


def test_variable_frame_rate_times_are_the_frames_own(tmp_path):
    times = [0.0, 0.1, 0.2, 1.5, 3.0, 3.05, 3.1, 6.0]
    path = make_clip(tmp_path / "vfr.mkv", 64, 64, frames=len(times), codec="libx264", times=times)
    index = index_clip(path, "vfr", POLICY)
    assert index.times == tuple(times)
    video = load(path, num_frames=4)
    assert set(video.timestamps) <= set(times)
    assert video.timestamps[-1] == 6.0


def test_seeking_gives_the_same_frames_as_decoding_everything(tmp_path):
    path = make_clip(tmp_path / "gop.mp4", 96, 64, frames=120, fps=30, gop=10)
    index = index_clip(path, "gop", POLICY)
    assert len(index.keyframes) >= 12
    picks = [3, 40, 41, 90, 119]
    sparse = decode_frames(path, index, picks, (96, 64), "gop")
    everything = decode_frames(path, index, list(range(120)), (96, 64), "gop")
    assert np.array_equal(sparse, everything[picks])
    # and the pixels are the frames asked for: frame 90's green level is 90 * 7 % 256
    assert abs(int(sparse[3, 10, 10, 1]) - frame_picture(90, 96, 64)[10, 10, 1]) <= 6


def test_bytes_data_uri_and_path_are_one_content(tmp_path):
    path = make_clip(tmp_path / "clip.mp4")
    data = path.read_bytes()
    uri = "data:video/mp4;base64," + base64.b64encode(data).decode()
    digests = {read_video(s, POLICY).digest for s in (path, str(path), data, uri, f"file://{path}")}
    assert len(digests) == 1
    assert np.array_equal(load(data).frames, load(uri).frames)


def test_a_url_is_fetched_under_the_image_policy(http_server, tmp_path):
    base, routes = http_server
    routes["/clip.mp4"] = (200, {"Content-Type": "video/mp4"}, make_clip(tmp_path / "c.mp4").read_bytes())
    with pytest.raises(MediaError, match="^video .*private"):
        read_video(f"{base}/clip.mp4", POLICY)  # the SSRF guard: loopback refused by default
    video = load(f"{base}/clip.mp4", MediaPolicy(allow_private_urls=True))
    assert video.num_frames == 6
    with pytest.raises(MediaError, match="over the"):
        read_video(f"{base}/clip.mp4", MediaPolicy(allow_private_urls=True, max_video_bytes=100))


def test_local_file_rules_and_sizes(tmp_path):
    path = make_clip(tmp_path / "clip.mp4")
    with pytest.raises(MediaError, match="local files are not allowed"):
        read_video(path, MediaPolicy(allow_local_files=False))
    with pytest.raises(MediaError, match="outside the allowed media directory"):
        read_video(path, MediaPolicy(allowed_local_dir=tmp_path / "elsewhere"))
    with pytest.raises(MediaError, match="byte video limit"):
        read_video(path, MediaPolicy(max_video_bytes=10))
    with pytest.raises(MediaError, match="no such file"):
        read_video(str(tmp_path / "missing.mp4"), POLICY)


def test_bad_inputs_get_one_line_errors(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=30).read_bytes()
    cases = {
        "not a video file": b"this is plain text, not a video at all" * 10,
        "has no video track": make_audio_only(tmp_path / "audio.m4a").read_bytes(),
        "corrupt or truncated|not a video file|no video frames": clip[: len(clip) // 3],
        "is empty": b"",
    }
    for message, data in cases.items():
        with pytest.raises(MediaError, match=message) as caught:
            load(data)
        assert "\n" not in str(caught.value)
    with pytest.raises(MediaError, match="lasts 3 s, over the limit of 2 s"):
        load(clip, MediaPolicy(max_video_duration_s=2.0))
    with pytest.raises(MediaError, match="over the 1000-pixel limit"):
        load(clip, MediaPolicy(max_image_pixels=1000))
    with pytest.raises(MediaError, match="media type 'text/plain', not a video"):
        read_video("data:text/plain;base64,aGVsbG8=", POLICY)


def test_a_zero_length_clip_is_refused(tmp_path):
    import av

    for fmt in ("mp4", "matroska"):
        path = tmp_path / f"empty.{fmt}"
        container = av.open(str(path), "w", format=fmt)
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # a header, no frame
        container.close()
        with pytest.raises(MediaError, match="no video frames|not a video file|no video track"):
            load(path)


def test_a_list_of_frames_keeps_its_times_and_sizes_them_alike():
    frames = [Image.fromarray(frame_picture(i, 80, 60)) for i in range(5)]
    video = load_frames(frames, (0.0, 0.5, 2.0, 2.5, 4.0), VideoSampling(), BUDGET, POLICY)
    assert video.timestamps == (0.0, 0.5, 2.0, 2.5, 4.0, 4.0)  # all taken, the last repeated to pair it
    assert video.frames.shape[1] % 32 == 0
    default_times = load_frames(frames[:2], None, VideoSampling(), BUDGET, POLICY)
    assert default_times.timestamps == (0.0, 0.5)
    with pytest.raises(InvalidRequestError, match="increasing"):
        load_frames(frames[:2], (1.0, 1.0), VideoSampling(), BUDGET, POLICY)


def test_an_animated_webp_is_read_with_its_frame_durations(tmp_path):
    frames = [Image.fromarray(frame_picture(i, 48, 32)) for i in range(6)]
    path = tmp_path / "anim.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[100, 100, 500, 100, 100, 100], loop=0)
    assert looks_like_video(path)
    video = load(path, num_frames=6)
    assert video.timestamps == (0.0, 0.1, 0.2, 0.7, 0.8, 0.9)  # FFmpeg cannot decode it; Pillow's frames and times
    assert video.label == str(path)


def test_a_file_is_a_video_by_its_content(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4")
    renamed = tmp_path / "holiday.jpg"
    renamed.write_bytes(clip.read_bytes())
    still = tmp_path / "still.png"
    Image.new("RGB", (8, 8)).save(still)
    animated = make_clip(tmp_path / "anim.gif", codec="gif", frames=4)
    assert looks_like_video(renamed)
    assert looks_like_video(animated)
    assert not looks_like_video(still)
    assert not looks_like_video(tmp_path / "missing.mp4")


def test_the_media_step_decodes_a_clip_once_per_sampling(tmp_path):
    path = make_clip(tmp_path / "clip.mp4")
    resolver = MediaResolver(video_budget=BUDGET)
    first = resolver.resolve([Message("user", [VideoPart(str(path))])])[0].videos[0].source
    again = resolver.resolve([Message("user", [VideoPart(path.read_bytes())])])[0].videos[0].source
    other = resolver.resolve([Message("user", [VideoPart(str(path), {"fps": 1.0})])])[0].videos[0].source
    assert again is first  # same content and sampling: the decoded clip is reused
    assert other is not first
    assert other.num_frames == 4
    assert len(resolver.video_cache) == 2
    with pytest.raises(InvalidRequestError, match="videos can only be attached to user messages"):
        resolver.resolve([Message("assistant", [VideoPart(str(path))]), Message.user("q")])
    with pytest.raises(InvalidRequestError, match="1 images and 1 videos in one request is over the limit of 1"):
        MediaResolver(max_images=1).resolve([Message("user", [VideoPart(str(path))]), Message.user("q", [path])])


def test_describe_source_never_prints_a_payload(tmp_path):
    data = make_clip(tmp_path / "clip.mp4").read_bytes()
    uri = "data:video/mp4;base64," + base64.b64encode(data).decode()
    with pytest.raises(InvalidRequestError) as caught:
        load(uri, start=100.0)
    assert len(str(caught.value)) < 200


def test_paths_are_opened_in_place(tmp_path):
    path = make_clip(tmp_path / "clip.mp4")
    assert isinstance(read_video(path, POLICY).data, Path)


def test_a_clip_with_a_display_rotation_is_turned_upright(tmp_path):
    import av

    path = tmp_path / "phone.mp4"
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
    stream.set_display_rotation(90)  # stored sideways, shown turned 90 degrees counter-clockwise
    for _ in range(10):
        picture = np.zeros((64, 96, 3), np.uint8)
        picture[:, :16] = 255  # a white band on the stored picture's left edge
        container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
    container.mux(stream.encode(None))
    container.close()
    video = load(path, num_frames=2)
    assert video.original_size == (64, 96)  # as displayed: upright
    width, height = video.size
    assert height > width
    frame = video.frames[0]
    assert frame[-4:].mean() > 200  # the left edge turned counter-clockwise is the bottom
    assert frame[:4].mean() < 50
