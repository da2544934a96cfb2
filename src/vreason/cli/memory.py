"""`vreason memory ...`: one user's memory across sessions, from the terminal; and the `--user` options that
`vreason ask` and `vreason chat` share.

    vreason memory add "the patient is 64" --user ana
    vreason memory add "this is part #17" --image part.png --user ana     # the model describes the picture
    vreason memory search "part 17" --user ana
    vreason memory list --user ana --kind image
    vreason memory show m2 --user ana [--image-out part.png]
    vreason memory forget m2 m3 --user ana | --query "part 17" | --all
    vreason memory export ana-memory/ --user ana;  vreason memory import ana-memory/ --user bob
    vreason memory retain --user ana --max-age-days 90 --max-items 10000 --max-bytes 500000000

The store: `--memory-url` (sqlite:///FILE or postgresql://...), else a SQLite file in `--memory-dir`, else
$VREASON_MEMORY_URL, $VREASON_MEMORY_DIR, $XDG_DATA_HOME/vreason, ~/.local/share/vreason. `--user` defaults to
$VREASON_USER. Nothing loads a model except `add --image` (to describe the picture; `--no-describe` skips it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vreason.cli import options as o
from vreason.cli.flag_help import App
from vreason.cli.option_groups import with_option_groups
from vreason.errors import InvalidRequestError

if TYPE_CHECKING:
    from vreason.memory import Memory, MemoryAnswer, MemoryItem, MemoryResult

USER_ENV = "VREASON_USER"
UserOpt = Annotated[
    str | None, typer.Option("--user", help=f"Whose memory (a namespace; default ${USER_ENV}).", show_default=False)
]
MemoryDirOpt = Annotated[
    Path | None, typer.Option("--memory-dir", help="Folder of the SQLite memory file (default ~/.local/share/vreason).")
]
MemoryUrlOpt = Annotated[
    str | None, typer.Option("--memory-url", help="A memory database URL: sqlite:///FILE or postgresql://...")
]
MemoryFlagOpt = Annotated[
    bool | None,
    typer.Option(
        "--memory/--no-memory",
        help="With --user: recall that user's memories into the prompt and carry out 'Remember: ...' / 'Forget ...' "
        "(default on with --user).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

app = App(help="Memory across sessions: add, search, list, show, forget, export, import.", no_args_is_help=True)


def memory_user(user: str | None, required: bool = True) -> str | None:
    user = user or os.environ.get(USER_ENV)
    if required and not user:
        raise InvalidRequestError(f"say whose memory: --user NAME (or set ${USER_ENV})", param="user")
    return user


def memory_wanted(user: str | None, memory: bool | None) -> bool:
    """`vreason ask/chat`: memory is on with a user (--user or $VREASON_USER) unless --no-memory; --memory
    without a user is an error."""
    if memory is False:
        return False
    found = memory_user(user, required=bool(memory))
    return found is not None


def print_memory_answer(result: MemoryAnswer, as_json: bool) -> None:
    """The answer on stdout; the memories it used (or wrote) on stderr, one note each."""
    from vreason.cli.render import answer_json, notice

    if as_json:
        data = json.loads(answer_json(result.answer)) if result.answer is not None else {"answer": result.text}
        data["answer"] = result.text
        data["memory"] = {k: v for k, v in result.to_dict().items() if k != "text"}
        print(json.dumps(data, ensure_ascii=False))
        return
    print(result.text, flush=True)
    notes = {i.id: i for i in [*(h.item for h in result.recalled), *result.related, *result.written]}
    for item_id in result.used:
        item = notes.get(item_id)
        notice(f"memory: {item.note() if item else item_id}")
    if result.answer is not None and result.recalled and not result.used:
        notice("memory: recalled " + ", ".join(h.id for h in result.recalled) + ", none cited")


def print_turn_memory(result: MemoryResult) -> None:
    """After a chat turn: which memories it wrote, forgot, cited (stderr)."""
    from vreason.cli.render import notice

    if result.written:
        notice("memory: wrote " + ", ".join(i.id for i in result.written))
    elif result.used:
        notice(f"memory: {'cited' if result.cited else 'recalled'} " + ", ".join(result.used))


def open_memory(user: str | None, memory_dir: Path | None, memory_url: str | None, vr=None, session=None) -> Memory:
    """The user's `Memory` (a model's `VReason` when pictures are to be described or questions answered)."""
    from vreason.memory import AsyncMemory, Memory, open_store

    store = open_store(memory_url, str(memory_dir) if memory_dir else None)
    aio = AsyncMemory(store, memory_user(user), vr.aio if vr is not None else None, session, source="cli")
    return Memory(aio, vr.run if vr is not None else None)


def item_line(item: MemoryItem) -> str:
    link = f"  (picture {item.image_sha256[:12]})" if item.image_sha256 and item.kind != "image" else ""
    return f"{item.id:>6}  {item.created_at:%Y-%m-%d %H:%M}  {item.kind:10}  session {item.session}  {item.text}{link}"


@app.command("add")
@with_option_groups
def add(
    text: Annotated[str, typer.Argument(help="What to remember (a fact, a correction, a note).")],
    loading: o.LoadingOptions,
    backend: o.BackendOptions,
    user: UserOpt = None,
    image: Annotated[list[str] | None, typer.Option("--image", help="A picture the text is about (repeatable).")] = (
        None
    ),
    kind: Annotated[str, typer.Option(help="fact, correction or note.")] = "fact",
    describe: Annotated[bool, typer.Option(help="Have the model describe a new picture.")] = True,
    session: Annotated[str | None, typer.Option(help="Session label (default: a new one).")] = None,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remember a fact (about pictures, if given)."""
    from vreason.media import load_image

    memory_user(user)
    pictures = [load_image(path) for path in image or []]  # bad files fail before a model loads
    vr = o.open_model(o.engine_spec(loading, backend)) if pictures and describe else None
    mem = open_memory(user, memory_dir, memory_url, vr, session)
    written = mem.remember(text, pictures, kind)
    _print_items(written, as_json)


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Words or a question.")],
    user: UserOpt = None,
    image: Annotated[list[str] | None, typer.Option("--image", help="Find this picture too (repeatable).")] = None,
    k: Annotated[int, typer.Option("-k", help="How many.")] = 5,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recall: full text, meaning, pictures, recency."""
    if not 1 <= k <= 100:
        raise InvalidRequestError(f"-k ({k}) must be between 1 and 100", param="k")
    hits = open_memory(user, memory_dir, memory_url).recall(query, image or [], k)
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False))
        return
    for hit in hits:
        print(f"{hit.score:.3f}  {'+'.join(hit.why):20}  {item_line(hit.item).strip()}")
    if not hits:
        print("(nothing recalled)")


@app.command("list")
def list_items(
    user: UserOpt = None,
    kind: Annotated[str | None, typer.Option(help="Only image, fact, correction or note.")] = None,
    session: Annotated[str | None, typer.Option(help="Only this session.")] = None,
    limit: Annotated[int, typer.Option(help="How many (newest first).")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The user's memories, newest first, and how much they take."""
    mem = open_memory(user, memory_dir, memory_url)
    items = mem.list(kind, session, limit, offset)
    if as_json:
        print(json.dumps({"items": [i.to_dict() for i in items], "stats": mem.stats().to_dict()}, ensure_ascii=False))
        return
    _print_items(items, False)
    stats = mem.stats()
    size = f"{stats.bytes / 1e6:.2f} MB"
    print(f"({plural(stats.items, 'memory', 'memories')}, {plural(stats.images, 'picture')}, {size})")


@app.command("show")
def show(
    item_id: Annotated[str, typer.Argument(help="An id like m42.")],
    user: UserOpt = None,
    image_out: Annotated[Path | None, typer.Option("--image-out", help="Write the item's picture here.")] = None,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One memory in full (its facts, its picture)."""
    mem = open_memory(user, memory_dir, memory_url)
    item = mem.get(item_id)
    if image_out is not None:
        if not item.image_sha256:
            raise InvalidRequestError(f"{item.id} has no picture", param="image_out")
        image_out.write_bytes(mem.image(item.image_sha256))
    if as_json:
        print(json.dumps(item.to_dict(), ensure_ascii=False))
        return
    print(item_line(item).strip())
    print(item.note())
    for key, value in item.facts.items():
        print(f"  {key}: {value}")
    print(f"  source: {item.source}; {item.bytes} bytes")


@app.command("forget")
def forget(
    ids: Annotated[list[str] | None, typer.Argument(help="Ids like m42.")] = None,
    user: UserOpt = None,
    query: Annotated[str | None, typer.Option(help="Forget what mentions all these words (and its pictures).")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Forget everything of this user.")] = False,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
) -> None:
    """Delete memories for good (rows, pictures, embeddings, full-text entries; the file is vacuumed)."""
    if sum(bool(x) for x in (ids, query, everything)) != 1:
        raise InvalidRequestError("give ids, or --query WORDS, or --all")
    count = open_memory(user, memory_dir, memory_url).forget(ids, query, everything)
    print(f"forgot {plural(count, 'memory', 'memories')}")


@app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write memory.jsonl and images/ into.")],
    user: UserOpt = None,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
) -> None:
    """Everything the user has: memory.jsonl and the pictures."""
    path = open_memory(user, memory_dir, memory_url).export(directory)
    print(path)


@app.command("import")
def import_items(
    path: Annotated[Path, typer.Argument(help="An exported folder (or its memory.jsonl).")],
    user: UserOpt = None,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
) -> None:
    """Add an export's memories to this user's (times and sessions kept, new ids)."""
    count = open_memory(user, memory_dir, memory_url).import_(path)
    print(f"imported {plural(count, 'memory', 'memories')}")


@app.command("retain")
def retain(
    user: UserOpt = None,
    max_age_days: Annotated[float | None, typer.Option(help="Forget memories older than this.")] = None,
    max_items: Annotated[int | None, typer.Option(help="Keep at most this many (the newest).")] = None,
    max_bytes: Annotated[int | None, typer.Option(help="Keep at most this many bytes (pictures included).")] = None,
    memory_dir: MemoryDirOpt = None,
    memory_url: MemoryUrlOpt = None,
) -> None:
    """Apply retention limits: the oldest memories past them are forgotten."""
    from vreason.memory import RetentionPolicy

    policy = RetentionPolicy(max_age_days, max_items, max_bytes)
    count = open_memory(user, memory_dir, memory_url).apply_retention(policy)
    print(f"forgot {plural(count, 'memory', 'memories')}")


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _print_items(items: list[MemoryItem], as_json: bool) -> None:
    if as_json:
        print(json.dumps([i.to_dict() for i in items], ensure_ascii=False))
        return
    for item in items:
        print(item_line(item))
