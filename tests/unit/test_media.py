"""Media input: every source kind, every normalization, and every failure as one MediaError naming the input."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.conftest import png_bytes
from vreason.errors import MediaError
from vreason.media import MediaPolicy, PixelBudget, load_image

LOCAL_URLS = MediaPolicy(allow_private_urls=True)


def _load(source, policy=None):
    return load_image(source, policy or MediaPolicy())


# --- sources ------------------------------------------------------------------------------------------


def test_local_path_str_and_path_and_file_url(image_file):
    for source in (str(image_file), image_file, image_file.as_uri()):
        prepared = _load(source)
        assert prepared.original_size == (64, 48)
        assert prepared.image.mode == "RGB"
        assert prepared.image.getpixel((0, 0))[0] > 150


def test_bytes_pil_data_uri_and_plain_base64():
    raw = png_bytes(size=(50, 40), color=(0, 0, 255))
    encoded = base64.b64encode(raw).decode()
    sources = [raw, bytearray(raw), Image.open(io.BytesIO(raw)), f"data:image/png;base64,{encoded}", encoded]
    for source in sources:
        prepared = _load(source)
        assert prepared.original_size == (50, 40)
        r, g, b = prepared.image.getpixel((5, 5))
        assert b > 200
        assert r < 50


def test_http_url(http_server):
    base, routes = http_server
    routes["/cat.png"] = (200, {"Content-Type": "image/png"}, png_bytes(size=(30, 20)))
    assert _load(f"{base}/cat.png", LOCAL_URLS).original_size == (30, 20)


def test_redirect_is_followed_and_rechecked(http_server):
    base, routes = http_server
    routes["/img"] = (200, {"Content-Type": "image/png"}, png_bytes(size=(33, 21)))
    routes["/moved"] = (302, {"Location": "/img"}, b"")
    assert _load(f"{base}/moved", LOCAL_URLS).original_size == (33, 21)
    routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(MediaError, match="redirects"):
        _load(f"{base}/loop", LOCAL_URLS)


def test_private_network_url_refused_by_default(http_server):
    base, routes = http_server
    routes["/a.png"] = (200, {"Content-Type": "image/png"}, png_bytes())
    with pytest.raises(MediaError, match="non-public address 127.0.0.1"):
        _load(f"{base}/a.png")
    with pytest.raises(MediaError, match="non-public address 169.254.169.254"):
        _load("http://169.254.169.254/latest/meta-data")


def test_url_errors_name_the_problem(http_server):
    base, routes = http_server
    routes["/page"] = (200, {"Content-Type": "text/html"}, b"<html>not an image</html>")
    routes["/big"] = (200, {"Content-Type": "image/png"}, b"x" * 5000)
    with pytest.raises(MediaError, match="serves 'text/html', not an image"):
        _load(f"{base}/page", LOCAL_URLS)
    with pytest.raises(MediaError, match="HTTP 404"):
        _load(f"{base}/nothing-here.png", LOCAL_URLS)
    with pytest.raises(MediaError, match="over the 1000-byte limit"):
        _load(f"{base}/big", MediaPolicy(allow_private_urls=True, max_bytes=1000))


def test_unreachable_url():
    with pytest.raises(MediaError, match="could not be fetched") as info:
        _load("http://127.0.0.1:1/x.png", LOCAL_URLS)
    assert "http://127.0.0.1:1/x.png" in str(info.value)
    with pytest.raises(MediaError, match="does not resolve"):
        _load("http://no-such-host.invalid/x.png")


def test_other_schemes_refused():
    with pytest.raises(MediaError, match="'ftp' is not supported"):
        _load("ftp://example.com/a.png")


def test_local_files_can_be_refused_or_confined(image_file, tmp_path_factory):
    with pytest.raises(MediaError, match="local files are not allowed"):
        _load(str(image_file), MediaPolicy(allow_local_files=False))
    other = tmp_path_factory.mktemp("elsewhere")
    with pytest.raises(MediaError, match="outside the allowed media directory"):
        _load(str(image_file), MediaPolicy(allowed_local_dir=other))
    assert _load(str(image_file), MediaPolicy(allowed_local_dir=image_file.parent)).original_size == (64, 48)


# --- failures -----------------------------------------------------------------------------------------


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MediaError, match=r"image .*nope\.png: no such file"):
        _load(str(tmp_path / "nope.png"))
    with pytest.raises(MediaError, match="is a directory"):
        _load(str(tmp_path))


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.png: is empty \(0 bytes\)"):
        _load(str(empty))


def test_corrupt_bytes_are_not_an_image():
    with pytest.raises(MediaError, match="not an image in a supported format"):
        _load(b"this is plain text, not pixels" * 10)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(fmt):
    pixels = (np.random.default_rng(0).random((200, 200, 3)) * 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    data = buffer.getvalue()
    with pytest.raises(MediaError, match="truncated or corrupt"):
        _load(data[: len(data) // 2])


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size, with a tiny body: decoding it would allocate gigabytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def test_decompression_bomb_refused_before_decoding():
    with pytest.raises(MediaError, match="decompression-bomb guard"):
        _load(_png_header_only(40_000, 40_000))
    with pytest.raises(MediaError, match="over the 1000-pixel limit"):
        _load(png_bytes(size=(50, 50)), MediaPolicy(max_image_pixels=1000))


def test_unsupported_format():
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, format="PPM")
    with pytest.raises(MediaError, match="format PPM is not supported"):
        _load(buffer.getvalue())


def test_aspect_ratio_limit():
    with pytest.raises(MediaError, match="aspect ratio 300:1"):
        _load(png_bytes(size=(600, 2)))


def test_bad_data_uri_and_base64():
    with pytest.raises(MediaError, match="media type 'text/plain', not an image"):
        _load("data:text/plain;base64,aGVsbG8=")
    with pytest.raises(MediaError, match="invalid base64"):
        _load("data:image/png;base64,@@@not-base64@@@")
    with pytest.raises(MediaError, match="no such file"):
        _load("definitely-not-a-file.jpg")


# --- normalization ------------------------------------------------------------------------------------


def test_exif_orientation_applied():
    image = Image.new("RGB", (40, 20), (0, 255, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert _load(buffer.getvalue()).original_size == (20, 40)


@pytest.mark.parametrize(
    ("mode", "color"),
    [("RGBA", (255, 0, 0, 0)), ("LA", (0, 0)), ("RGBA", (0, 0, 255, 255)), ("L", 128), ("CMYK", (0, 0, 0, 0))],
)
def test_modes_become_rgb(mode, color):
    prepared = _load(png_bytes(mode=mode, color=color, fmt="TIFF" if mode == "CMYK" else "PNG"))
    assert prepared.image.mode == "RGB"
    pixel = prepared.image.getpixel((3, 3))
    if mode in ("RGBA", "LA") and color[-1] == 0:
        assert pixel == (255, 255, 255)  # fully transparent -> white background
    elif mode == "RGBA":
        assert pixel[2] > 240
        assert pixel[0] < 15
    elif mode == "L":
        assert abs(pixel[0] - 128) <= 2
        assert pixel[0] == pixel[1] == pixel[2]
    else:
        assert min(pixel) > 240  # CMYK (0,0,0,0) is white paper


def test_palette_with_transparency_goes_onto_white():
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0] * 256)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)
    assert _load(buffer.getvalue()).image.getpixel((1, 1)) == (255, 255, 255)


def test_sixteen_bit_and_float_scaled_to_eight_bit():
    deep = np.full((30, 30), 65535 // 2, dtype=np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(deep).save(buffer, format="PNG")
    pixel = _load(buffer.getvalue()).image.getpixel((2, 2))
    assert abs(pixel[0] - 128) <= 2
    floats = Image.fromarray(np.full((30, 30), 0.25, dtype=np.float32), mode="F")
    assert abs(_load(floats).image.getpixel((2, 2))[0] - 64) <= 2


# --- pixel budget -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(64, 48), (1, 100), (3000, 2000), (1023, 1025), (32, 32)])
def test_budget_sizes_are_multiples_of_32_within_bounds(size):
    budget = PixelBudget(min_pixels=64 * 32 * 32, max_pixels=256 * 32 * 32)
    w, h = budget.target_size(*size)
    assert w % 32 == 0
    assert h % 32 == 0
    assert budget.min_pixels <= w * h <= budget.max_pixels
    assert budget.num_visual_tokens(*size) == (w // 32) * (h // 32)


def test_budget_applied_and_original_size_kept():
    prepared = _load(png_bytes(size=(2000, 1000)))
    assert prepared.original_size == (2000, 1000)
    w, h = PixelBudget(max_pixels=100 * 32 * 32).apply(prepared.image).size
    assert w * h <= 100 * 32 * 32
    assert abs(w / h - 2) < 0.2


def test_checkpoint_budget_follows_the_processor_with_a_cap():
    released = PixelBudget.from_processor_size({"shortest_edge": 65536, "longest_edge": 16777216})
    assert released.min_pixels == 65536
    assert released.max_pixels == 1024 * 32 * 32  # capped for CPU; raise per request
    assert PixelBudget.from_processor_size(None) == PixelBudget()


def test_a_square_budget_stretches_every_picture_to_a_square_of_about_its_area():
    from types import SimpleNamespace

    from vreason.media import checkpoint_budget

    square = PixelBudget(min_pixels=64 * 32 * 32, max_pixels=256 * 32 * 32, square=True)
    for size in [(900, 300), (300, 900), (512, 512), (40, 10)]:
        w, h = square.target_size(*size)
        assert w == h
        assert w % 32 == 0
        assert square.min_pixels <= w * h <= square.max_pixels
    assert square.target_size(600, 300) == (416, 416)  # sqrt(600 * 300) = 424 -> 13 tokens a side
    wide = _load(png_bytes(size=(2000, 1000)))
    assert square.fit(wide).size == square.target_size(2000, 1000)
    assert square.updated(max_pixels=300 * 32 * 32).square  # a request's bounds keep the checkpoint's shape
    assert PixelBudget().target_size(900, 300) == (896, 288)  # without it the shape is kept
    # the processor's `square_pictures` decides it; the built-in model's size, 256x256, whatever the picture
    demo_like = SimpleNamespace(size={"shortest_edge": 65536, "longest_edge": 65536}, square_pictures=True)
    assert checkpoint_budget(SimpleNamespace(image_processor=demo_like)).target_size(320, 192) == (256, 256)
    assert not checkpoint_budget(SimpleNamespace(size={"shortest_edge": 65536, "longest_edge": 65536})).square


def test_budget_validation_messages():
    from vreason.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match=r"max_pixels \(5000\) must be >= min_pixels \(8192\)"):
        PixelBudget(min_pixels=8192, max_pixels=5000)
    with pytest.raises(InvalidRequestError, match="min_pixels"):
        PixelBudget(min_pixels=10)


def test_the_media_step_decodes_encoded_inputs_once_per_policy_and_bad_ones_still_fail():
    from tests.conftest import png_bytes
    from vreason.engine.types import Message
    from vreason.media_step import DecodedImageCache, MediaResolver

    cache = DecodedImageCache()
    picture = png_bytes(size=(40, 30))
    loose = MediaResolver(MediaPolicy(), cache=cache)
    first = loose.resolve([Message.user("q", [picture])])[0].images[0]
    again = loose.resolve([Message.user("q", [bytearray(picture)])])[0].images[0]
    assert again is first  # same bytes, same policy: not decoded again
    strict = MediaResolver(MediaPolicy(max_image_pixels=2000), cache=cache)
    assert strict.resolve([Message.user("q", [picture])])[0].images[0] is not first  # checked again
    with pytest.raises(MediaError, match="pixels"):
        MediaResolver(MediaPolicy(max_image_pixels=100), cache=cache).resolve([Message.user("q", [picture])])
    text_only = [Message.user("no images")]
    assert loose.resolve(text_only)[0] is text_only[0]


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([], "at least one message"),
        ([{"role": "assistant", "content": "hi"}], "last message must be from the user"),
        ([{"role": "assistant", "content": [{"type": "image", "image": "x"}]}, {"role": "user", "content": "q"}],
         "only be attached to user messages"),
        ([{"role": "user", "content": [{"type": "image", "image": "x"}] * 3}], "3 images in one request"),
    ],
)
def test_the_media_step_checks_the_conversation_before_reading_any_image(messages, match):
    from vreason.engine.types import Message
    from vreason.errors import InvalidRequestError
    from vreason.media_step import MediaResolver

    with pytest.raises(InvalidRequestError, match=match):
        MediaResolver(MediaPolicy(), max_images=2).resolve([Message.from_dict(m) for m in messages])


def test_an_engine_refuses_an_image_the_media_step_has_not_resolved():
    from vreason.engine.prompt import chat_conversation
    from vreason.engine.types import Message
    from vreason.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="reached the engine unresolved"):
        chat_conversation([Message.user("q", ["picture.png"])])


def test_the_url_timeout_bounds_the_whole_fetch_not_each_read():
    import http.server
    import threading
    import time

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            body = png_bytes((32, 32))  # 100 bytes
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:  # one byte every 50 ms: each read is quick, the whole body takes seconds
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    policy = MediaPolicy(allow_private_urls=True, url_timeout_s=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(MediaError, match="within 1 s"):
            load_image(f"http://127.0.0.1:{server.server_address[1]}/slow.png", policy)
        assert time.monotonic() - started < 3  # the body alone takes about 5 s
    finally:
        server.shutdown()
