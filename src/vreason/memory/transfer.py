"""Export and import one user's memory: `memory.jsonl` (one item a line, oldest first, with its time, session,
kind, text, facts) and `images/<sha256>.<ext>` (each picture's original).

Import reads such a folder (or its memory.jsonl) into another (or the same) user's namespace: times and
sessions are kept, ids are new (links between items are renumbered), pictures are stored once by content,
embeddings are computed again (they are not exported: they follow from the text and this vreason's model).
"""

from __future__ import annotations

import json
from pathlib import Path

from vreason.errors import InvalidRequestError
from vreason.memory.images import extension, stored_image
from vreason.memory.store import MemoryStore, NewItem
from vreason.memory.types import check_kind

FILE_NAME = "memory.jsonl"
FORMAT = "vreason-memory/1"


def export_user(store: MemoryStore, user: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "images").mkdir(exist_ok=True)
    names: dict[str, str] = {}  # sha256 -> file name under images/
    path = directory / FILE_NAME
    with path.open("w", encoding="utf-8") as out:
        offset = 0
        while True:
            batch = store.list(user, limit=1000, offset=offset, oldest_first=True)
            if not batch:
                break
            offset += len(batch)
            for item in batch:
                record = {"format": FORMAT, **item.to_dict()}
                record.pop("user")
                sha = item.image_sha256
                if sha:
                    if sha not in names:
                        data, mime = store.picture(user, sha)
                        names[sha] = f"{sha}.{extension(mime)}"
                        (directory / "images" / names[sha]).write_bytes(data)
                    record["image_file"] = names[sha]
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def import_user(store: MemoryStore, user: str, path: Path) -> int:
    """The number of items imported."""
    from datetime import datetime

    jsonl = path / FILE_NAME if path.is_dir() else path
    if not jsonl.is_file():
        raise InvalidRequestError(f"memory import {path}: no {FILE_NAME} there")
    records = []
    for number, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            check_kind(record["kind"])
            record["created"] = datetime.fromisoformat(record["created_at"]).timestamp()
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidRequestError(f"memory import {jsonl}:{number}: not a memory record ({err})") from err
        records.append(record)
    renumbered: dict[str, str] = {}
    count = 0
    for kinds in (("image",), ("fact", "correction", "note")):  # pictures first: the others link to them
        for record in (r for r in records if r["kind"] in kinds):
            picture = None
            if record.get("image_file"):
                picture = stored_image(str(jsonl.parent / "images" / Path(record["image_file"]).name))
            facts = dict(record.get("facts") or {})
            if "images" in facts:
                facts["images"] = [renumbered.get(i, i) for i in facts["images"]]
            new = NewItem(
                str(record.get("session") or "import"),
                record["kind"],
                record["text"],
                "import",
                image_sha256=picture.sha256 if picture else None,
                facts=facts,
                created_at=record["created"],
            )
            if record["kind"] == "image" and picture is not None:
                existing = store.image_item(user, picture.sha256)
                if existing is not None:
                    renumbered[record["id"]] = existing.id
                    continue
            (item,) = store.add(user, [new], [picture] if picture else [])
            renumbered[record["id"]] = item.id
            count += 1
    return count
