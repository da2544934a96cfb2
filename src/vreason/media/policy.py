"""What media inputs are allowed and how large they may be: one frozen dataclass every loader reads.

Defaults suit a person on their own machine (local files allowed, private-network URLs refused);
the HTTP server builds a stricter policy (no local files unless a directory is allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vreason.errors import InvalidRequestError

MiB = 1024 * 1024

# Pillow's own bomb threshold is 89 MP (warning) / 179 MP (error); 64 MP still covers a 8000x8000 scan.
# Images in one request (the media step's limit), unless the engine is configured with another.
DEFAULT_MAX_IMAGES_PER_REQUEST = 16
DEFAULT_MAX_IMAGE_PIXELS = 64_000_000
# Qwen3-VL's preprocessing (qwen-vl-utils MAX_RATIO) refuses images more elongated than 200:1.
DEFAULT_MAX_ASPECT_RATIO = 200.0


@dataclass(frozen=True)
class MediaPolicy:
    # Local paths and file:// URLs; refused entirely when False.
    allow_local_files: bool = True
    # When set, local files must resolve (symlinks followed) to a path under this directory.
    allowed_local_dir: Path | None = None
    # URLs whose host resolves to loopback, private, link-local, metadata or reserved addresses.
    allow_private_urls: bool = False
    # When non-empty, only these host names (or their subdomains) may be fetched.
    allowed_domains: tuple[str, ...] = ()
    # How URL hosts are resolved: (host, port) -> IP address strings, raising OSError when the name does not
    # resolve. None is the system resolver (getaddrinfo). Whatever it answers is checked and then connected to.
    resolver: Callable[[str, int], list[str]] | None = None
    url_timeout_s: float = 10.0
    max_redirects: int = 5
    # Cap on encoded bytes from any source (file, URL, data URI).
    max_bytes: int = 20 * MiB
    # Decompression-bomb guard, checked from the header before any pixel is decoded.
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO
    # Videos (media/video_input.py): encoded bytes from any source, the clip's length, frames sampled from it.
    max_video_bytes: int = 512 * MiB
    max_video_duration_s: float = 4 * 3600.0
    max_video_frames: int = 768  # Qwen3-VL's own ceiling (its video processor's max_frames)

    def __post_init__(self) -> None:
        if self.url_timeout_s <= 0:
            raise InvalidRequestError(f"url_timeout_s ({self.url_timeout_s}) must be > 0")
        if self.max_bytes <= 0:
            raise InvalidRequestError(f"max_bytes ({self.max_bytes}) must be > 0")
        if self.max_image_pixels <= 0:
            raise InvalidRequestError(f"max_image_pixels ({self.max_image_pixels}) must be > 0")
        for name in ("max_video_bytes", "max_video_duration_s", "max_video_frames"):
            if getattr(self, name) <= 0:
                raise InvalidRequestError(f"{name} ({getattr(self, name)}) must be > 0")
        if self.max_aspect_ratio < 1:
            raise InvalidRequestError(f"max_aspect_ratio ({self.max_aspect_ratio}) must be >= 1")
        if self.allowed_local_dir is not None:
            object.__setattr__(self, "allowed_local_dir", Path(self.allowed_local_dir).resolve())
