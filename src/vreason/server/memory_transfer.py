"""A user's memory as one ZIP over HTTP: export packs what `AsyncMemory.export` writes (`memory.jsonl` and
`images/<sha256>.<ext>`), import unpacks an upload of that shape for `AsyncMemory.import_`.

Unpacking trusts nothing in the archive: only `memory.jsonl` and flat `images/<name>` members are taken (no
folders, no `..`, no links), and the unpacked total is bounded (a small ZIP may inflate to gigabytes).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from vreason.server.errors import ApiError

JSONL = "memory.jsonl"
IMAGES = "images"
MAX_UNPACKED_BYTES = 2 * 1024**3
_IMAGE_NAME = re.compile(r"^[0-9a-fA-F]{8,128}\.[A-Za-z0-9]{1,8}$")


def pack(folder: Path) -> bytes:
    """The export folder as ZIP bytes (images stored as they are: they are compressed already)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                kind = zipfile.ZIP_DEFLATED if name == JSONL else zipfile.ZIP_STORED
                archive.write(path, name, compress_type=kind)
    return buffer.getvalue()


def unpack(data: bytes, folder: Path) -> Path:
    """Write the usable members of a memory ZIP (or a bare JSONL) under `folder`; returns the JSONL's path."""
    if not data.startswith(b"PK"):
        try:  # a bare memory.jsonl: text items only
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(
                400,
                "the upload is neither a ZIP nor UTF-8 JSON lines; send the ZIP from GET /v1/vreason/memory/export",
                param="file",
                code="invalid_value",
            ) from None
        target = folder / JSONL
        target.write_bytes(data)
        return target
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise ApiError(400, f"the upload is not a readable ZIP ({err})", param="file", code="invalid_value") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        names = {m.filename for m in members}
        if JSONL not in names:
            raise ApiError(
                400,
                f"the ZIP holds no {JSONL} (export one with GET /v1/vreason/memory/export)",
                param="file",
                code="invalid_value",
            )
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise ApiError(
                400, f"the ZIP unpacks to more than {MAX_UNPACKED_BYTES} bytes", param="file", code="invalid_value"
            )
        (folder / IMAGES).mkdir(exist_ok=True)
        for member in members:
            head, _, tail = member.filename.partition("/")
            if member.filename == JSONL:
                target = folder / JSONL
            elif head == IMAGES and _IMAGE_NAME.match(tail):
                target = folder / IMAGES / tail
            else:
                continue  # anything else in the archive is not the store's; it is never written anywhere
            with archive.open(member) as source:
                target.write_bytes(source.read(MAX_UNPACKED_BYTES + 1))
    return folder / JSONL
