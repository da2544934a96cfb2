"""Which live sources the media policy lets a server session (or the web UI) open: stream URLs to public hosts
only, allowed domains, no devices, listeners or local files unless allowed, local files only under the allowed
directory. Host names go through the policy's resolver (a table here: no DNS)."""

from __future__ import annotations

import pytest

from vreason.live.source_policy import checked_source
from vreason.live.sources import FileSource, FolderSource, StreamSource
from vreason.live.synthetic import Appearance, write_stream
from vreason.live.types import SourceError
from vreason.media import MediaPolicy

HOSTS = {"cam.example.com": ["93.184.216.34"], "nvr.lan": ["192.168.1.20"], "meta.example.com": ["169.254.169.254"]}


def resolve(host: str, port: int) -> list[str]:
    if host not in HOSTS:
        raise OSError("Name or service not known")
    return HOSTS[host]


SERVER = MediaPolicy(allow_local_files=False, resolver=resolve)


def refused(spec: str, policy: MediaPolicy = SERVER) -> str:
    with pytest.raises(SourceError) as caught:
        checked_source(spec, policy)
    return str(caught.value)


def test_public_stream_urls_open_and_private_ones_are_refused():
    for url in ("rtsp://cam.example.com/live", "https://cam.example.com/mjpeg", "srt://cam.example.com:9000"):
        assert isinstance(checked_source(url, SERVER), StreamSource)
    assert "private network" in refused("rtsp://nvr.lan/cam")
    assert "169.254.169.254; refused (private network)" in refused("http://meta.example.com/latest")
    assert "private network" in refused("rtsp://127.0.0.1:8554/cam")
    assert "does not resolve" in refused("rtsp://nowhere.example.org/cam")
    assert "no host" in refused("rtsp:///cam")
    lan = MediaPolicy(allow_local_files=False, allow_private_urls=True, resolver=resolve)
    assert isinstance(checked_source("rtsp://nvr.lan/cam", lan), StreamSource)


def test_allowed_domains_name_the_hosts():
    named = MediaPolicy(allow_local_files=False, allowed_domains=("example.com",), resolver=resolve)
    assert isinstance(checked_source("rtsp://cam.example.com/live", named), StreamSource)
    HOSTS["cam.other.org"] = ["93.184.216.35"]
    assert "not in the allowed media domains" in refused("rtsp://cam.other.org/live", named)


def test_the_servers_own_inputs_need_local_media_allowed(tmp_path):
    assert "camera devices" in refused("/dev/video0")
    assert "udp://" in refused("udp://0.0.0.0:5000")
    assert "local files are not allowed" in refused(str(tmp_path))
    assert "not supported" in refused("ftp://cam.example.com/a")
    assert "empty" in refused("  ")


def test_local_files_and_folders_only_under_the_allowed_directory(tmp_path):
    allowed = tmp_path / "media"
    (allowed / "drops").mkdir(parents=True)
    clip = write_stream(allowed / "line.mp4", [Appearance("circle", "red", 0.5, 1.0)], seconds=1, fps=4, size=64)
    policy = MediaPolicy(allow_local_files=True, allowed_local_dir=allowed, resolver=resolve)
    source = checked_source(str(clip), policy)
    assert isinstance(source, FileSource)
    assert source.realtime
    assert isinstance(checked_source(f"file://{clip}", policy), FileSource)
    assert isinstance(checked_source(str(allowed / "drops"), policy), FolderSource)
    outside = tmp_path / "other.mp4"
    outside.write_bytes(clip.read_bytes())
    assert "outside the allowed media directory" in refused(str(outside), policy)
    assert "outside the allowed media directory" in refused(str(tmp_path), policy)
    assert "no such file" in refused(str(allowed / "missing.mp4"), policy)
