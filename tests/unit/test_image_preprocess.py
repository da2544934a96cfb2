"""Image preprocessing for TTFT: `image_patches` gives the image processor's pixel_values, a large JPEG is
decoded at a libjpeg scale near the budget and stays close to the processor's full-size result, and the
demo model answers the same through either path."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from transformers import Qwen2VLImageProcessor

from vreason.engine.image_patches import PatchSpec, image_patches
from vreason.errors import MediaError
from vreason.media.image_input import PreparedImage, load_image
from vreason.media.pixel_budget import PixelBudget

CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


def processor(**kwargs) -> Qwen2VLImageProcessor:
    return Qwen2VLImageProcessor(patch_size=16, merge_size=2, temporal_patch_size=2, **kwargs)


def noisy(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Smooth colour plus noise: every resampling difference shows up."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([128 + 90 * np.sin(x / (40 + 20 * c) + y / 70) for c in range(3)], -1)
    return Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))


def jpeg(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **save)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def large() -> Image.Image:
    return noisy((2560, 1600))  # 4.1 MP: over decode.DEFER_MIN_PIXELS


@pytest.mark.parametrize("stats", [{}, {"image_mean": CLIP_MEAN, "image_std": CLIP_STD}], ids=["qwen", "clip"])
def test_patches_are_the_processors_pixel_values(stats):
    proc = processor(**stats)
    picture = noisy((320, 224))
    budget = PixelBudget(max_pixels=320 * 224)
    reference = proc(images=[picture], size=budget.processor_size(), return_tensors="pt")
    spec = PatchSpec.from_processor(proc)
    assert spec.fits(picture, budget.processor_size())
    pixel_values, grid = image_patches(picture, spec)
    assert grid == tuple(reference["image_grid_thw"][0].tolist()) == (1, 14, 20)
    assert pixel_values.shape == reference["pixel_values"].shape == (280, 3 * 2 * 16 * 16)
    assert (pixel_values - reference["pixel_values"]).abs().max().item() < 1e-5


def test_processors_it_cannot_reproduce_keep_the_processor():
    assert PatchSpec.from_processor(processor(do_normalize=False)) is None
    assert PatchSpec.from_processor(object()) is None
    spec = PatchSpec.from_processor(processor())
    size = PixelBudget().processor_size()
    assert not spec.fits(noisy((320, 200)), size)  # 200 is no multiple of 32: the processor would resize
    assert not spec.fits(noisy((320, 224)).convert("L"), size)
    assert not spec.fits(noisy((32, 32)), size)  # under min_pixels: the processor would upscale


def test_a_large_jpeg_decodes_near_the_budget_and_stays_close_to_the_processor(large):
    data = jpeg(large)
    prepared = load_image(data)
    assert prepared.original_size == (2560, 1600)
    assert "decoded=False" in repr(prepared)
    budget = PixelBudget(max_pixels=320 * 32 * 32)
    pixels = budget.fit(prepared)
    assert pixels.size == budget.target_size(2560, 1600) == (704, 448)
    assert "decoded=False" in repr(prepared)  # the budget path never decoded the full picture
    proc = processor()
    full = Image.open(io.BytesIO(data)).convert("RGB")
    reference = proc(images=[full], size=budget.processor_size(), return_tensors="pt")["pixel_values"]
    ours, _ = image_patches(pixels, PatchSpec.from_processor(proc))
    diff = (ours - reference).abs()
    # values span -1..1; libjpeg's 1/2-scale IDCT + bilinear vs a full decode + bicubic
    assert diff.mean().item() < 0.01
    assert diff.max().item() < 0.35
    assert prepared.image.size == (2560, 1600)  # crops and drawings still get every pixel
    assert np.array_equal(np.asarray(prepared.image), np.asarray(full))


def test_rotated_small_and_broken_jpegs(large):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    rotated = load_image(jpeg(large, exif=exif))
    assert rotated.original_size == (1600, 2560)  # decoded at once, orientation applied
    assert "decoded=True" in repr(rotated)
    assert "decoded=True" in repr(load_image(jpeg(noisy((640, 480)))))
    truncated = jpeg(large)[:-20000]
    prepared = load_image(truncated)  # the header is sound: the pixels are read when the prompt needs them
    with pytest.raises(MediaError, match="truncated or corrupt"):
        PixelBudget().fit(prepared)


def test_the_demo_model_answers_the_same_through_the_fast_path():
    from vreason import VReason

    vr = VReason()
    builder = vr.engine.inputs
    assert builder.patch_spec is not None
    picture = Image.open("examples/shapes.png").convert("RGB")
    large = load_image(jpeg(picture.resize((2560, 1600), Image.Resampling.BICUBIC)))
    eager = PreparedImage(large.image.copy(), "eager")  # the same picture, decoded at full size
    questions = ["What color is the shape?", "What shape is it?"]
    fast = [vr.ask(large, q, temperature=0).text for q in questions]
    builder.patch_spec = None  # the processor's own path
    try:
        slow = [vr.ask(eager, q, temperature=0).text for q in questions]
    finally:
        builder.patch_spec = PatchSpec.from_processor(builder.processor.image_processor)
    assert fast == slow


def png(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


def eager(data: bytes) -> Image.Image:
    from vreason.media.decode import check_and_normalize, open_image
    from vreason.media.policy import MediaPolicy

    return check_and_normalize(open_image(data, "eager", MediaPolicy()), "eager", MediaPolicy())


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "LA"])
def test_a_large_png_waits_compressed_and_decodes_to_the_eager_pixels(mode):
    picture = noisy((640, 480)).convert(mode)
    data = png(picture)
    prepared = load_image(data)
    assert prepared.original_size == (640, 480)
    assert "decoded=False" in repr(prepared)  # a request queued at the gate holds these bytes, no pixels
    budget = PixelBudget(max_pixels=320 * 32 * 32)
    fitted = budget.fit(prepared)
    reference = eager(data)
    # the budget path gives exactly what a PNG decoded at load gave (full decode, then bicubic)
    assert np.array_equal(np.asarray(fitted), np.asarray(reference.resize(fitted.size, Image.Resampling.BICUBIC)))
    assert "decoded=False" in repr(prepared)  # the fitted pixels were the caller's: the request keeps bytes
    assert np.array_equal(np.asarray(budget.fit(prepared)), np.asarray(fitted))
    assert np.array_equal(np.asarray(PixelBudget(max_pixels=640 * 480).fit(prepared)), np.asarray(reference))
    assert np.array_equal(np.asarray(prepared.image), np.asarray(reference))  # crops and drawings: kept
    assert "decoded=True" in repr(prepared)


def _outcome(load):
    """What loading gave: the pixels, or the error's message (without the input's label)."""
    try:
        return np.asarray(load().image).tobytes()
    except MediaError as err:
        return str(err).split(": ", 1)[1]


def _crc_fixed(data: bytes) -> bytes:
    """`data` with each chunk's CRC recomputed (damage inside a chunk that the checksums do not see)."""
    import struct
    import zlib

    out, at = bytearray(data[:8]), 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        body = data[at + 4 : at + 8 + length]
        out += data[at : at + 4] + body + struct.pack(">I", zlib.crc32(body))
        at += 12 + length
    return bytes(out)


def test_small_rotated_and_broken_pngs_are_decided_at_load():
    from PIL.PngImagePlugin import PngInfo

    assert "decoded=True" in repr(load_image(png(noisy((200, 200)))))  # small: decoded at once
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = load_image(png(noisy((640, 480)), exif=exif))
    assert rotated.original_size == (480, 640)  # an eXIf block: decoded at once, orientation applied
    xmp = PngInfo()
    xmp.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/'
                 '1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
                 'tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    assert load_image(png(noisy((640, 480)), pnginfo=xmp)).original_size == (480, 640)  # XMP orientation too
    data = png(noisy((640, 480)))
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    no_iend = data[:-12]
    # a failed checksum sends the PNG to the full decode at load: refused or accepted exactly as without deferral
    for broken in (data[: len(data) // 2], data[:200], bytes(flipped), no_iend):
        assert _outcome(lambda b=broken: load_image(b)) == _outcome(lambda b=broken: PreparedImage(eager(b), "x"))
    with pytest.raises(MediaError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])
    # damage the checksums cannot see waits with the bytes and fails when the prompt is built
    hidden = _crc_fixed(bytes(flipped))
    prepared = load_image(hidden)
    assert "decoded=False" in repr(prepared)
    with pytest.raises(MediaError, match="truncated or corrupt"):
        PixelBudget().fit(prepared)


def test_a_picture_remembered_by_the_server_is_decoded_before_it_is_stored():
    # memory keeps the bytes for every later recall, so damage the checksums cannot see is refused at once
    from types import SimpleNamespace

    from vreason.media.policy import MediaPolicy
    from vreason.server.memory_access import ServerMemory

    data = png(noisy((640, 480)))
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    memory = ServerMemory.__new__(ServerMemory)
    memory.engine = SimpleNamespace(policy=MediaPolicy(), max_images_per_request=4)
    assert memory._read_images([data], "image") == [data]
    with pytest.raises(MediaError, match="truncated or corrupt"):
        memory._read_images([_crc_fixed(bytes(flipped))], "image")


def test_the_draft_resize_matches_pillows_bilinear_channel_for_channel(large):
    import sys

    import torch  # noqa: F401  # resize_scaled takes torch's kernel only where torch is loaded: test that one

    from vreason.media.decode import resize_scaled

    assert "torch" in sys.modules

    source = large.resize((1280, 800))
    ours = np.asarray(resize_scaled(source, (704, 448)), dtype=np.int16)
    pillow = np.asarray(source.resize((704, 448), Image.Resampling.BILINEAR), dtype=np.int16)
    assert ours.shape == pillow.shape == (448, 704, 3)
    assert np.abs(ours - pillow).max() <= 1  # torch's uint8 kernel vs Pillow's: rounding apart, same pixels
    # the picture's channels differ, so a swapped or misordered plane could not pass the bound above
    assert np.abs(pillow[..., 0] - pillow[..., 2]).mean() > 10


def test_a_deferred_pictures_fitted_pixels_do_not_change_when_it_is_decoded_in_full(large):
    # the engine keys a deferred picture by its bytes, so its fitted pixels must follow from them alone: a crop
    # or a drawing that decodes the JPEG in full between two requests must not move it to the bicubic path
    budget = PixelBudget(max_pixels=320 * 32 * 32)
    prepared = load_image(jpeg(large))
    size = budget.target_size(*prepared.original_size)
    before = np.asarray(prepared.pixels(size))
    assert prepared.image.size == (2560, 1600)  # decoded in full now
    assert prepared.encoded is not None  # a JPEG keeps its bytes
    assert np.array_equal(np.asarray(prepared.pixels(size)), before)
    bicubic = np.asarray(prepared.image.resize(size, Image.Resampling.BICUBIC))
    assert not np.array_equal(bicubic, before)  # the two paths differ: keeping the bytes is what holds it
    png = io.BytesIO()
    large.save(png, format="PNG")
    prepared = load_image(png.getvalue())
    assert prepared.encoded is not None  # deferred
    before = np.asarray(prepared.pixels(size))
    assert prepared.image.size == (2560, 1600)
    assert prepared.encoded is None  # a decoded PNG drops its bytes: both paths are a bicubic resize of it
    assert np.array_equal(np.asarray(prepared.pixels(size)), before)


def test_the_pixel_budget_sizes_images_as_qwen_vl_utils_does():
    # pixel_budget restates qwen-vl-utils' smart_resize so that clients need not import torch for it
    from qwen_vl_utils.vision_process import smart_resize

    from vreason.errors import InvalidRequestError

    rng = np.random.default_rng(0)
    budgets = [PixelBudget(), PixelBudget(max_pixels=1280 * 32 * 32), PixelBudget(min_pixels=256 * 32 * 32)]
    budgets.append(PixelBudget(min_pixels=64 * 32 * 32, max_pixels=64 * 32 * 32))
    sizes = [(1, 1), (31, 33), (16, 3000), (3000, 16), (640, 480), (3840, 2160), (4000, 4000), (100, 19999)]
    sizes += [tuple(int(v) for v in rng.integers(1, 5000, size=2)) for _ in range(300)]
    checked = 0
    for width, height in sizes:
        for budget in budgets:
            try:
                expected_h, expected_w = smart_resize(
                    height, width, factor=32, min_pixels=budget.min_pixels, max_pixels=budget.max_pixels
                )
            except ValueError:  # over 200:1
                with pytest.raises(InvalidRequestError, match="200:1"):
                    budget.target_size(width, height)
                continue
            if min(expected_h, expected_w) == 0:  # qwen-vl-utils scales a side to 0; ours keeps one token
                assert min(budget.target_size(width, height)) == 32
                continue
            assert budget.target_size(width, height) == (expected_w, expected_h), (width, height, budget)
            checked += 1
    assert checked > 1000
    assert PixelBudget(max_pixels=4096).target_size(640, 100) == (160, 32)
