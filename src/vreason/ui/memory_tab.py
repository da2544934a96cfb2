"""The Memory tab: what the signed-in user's memory holds, searched and forgotten from the page.

A table of items (id, when, kind, session, text; a search adds the score and the signals that found it) and the
thumbnails of the pictures among them. A search recalls as a chat turn would (text, embedding, picture, recency);
an empty search lists the newest items, filtered by kind. Clicking a row picks its id; Forget deletes the picked
ids for good (a hard delete: rows, pictures, embeddings, search entries) after a second click.

Every handler opens the memory of its own request's user (`user_of`: the logged-in name, "local" without a
login), so one user's page can neither list, search, see the pictures of, nor forget another user's items.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

import gradio as gr
from PIL import Image

from vreason.errors import VReasonError
from vreason.ui.chat_sidebar import user_of
from vreason.ui.feedback import error_message

if TYPE_CHECKING:
    from vreason.memory import AsyncMemory, MemoryItem, MemoryStore, RecallHit

HEADERS = ["id", "when", "kind", "session", "text", "score"]
KINDS = ["all", "image", "fact", "correction", "note"]
LIST_LIMIT = 200
SEARCH_K = 20
PICTURES = 24  # thumbnails shown at most
FORGET, CONFIRM_FORGET = "Forget", "Click again to forget"
_ID = re.compile(r"\bm?\d+\b")


class MemoryTab:
    def __init__(self, store: MemoryStore):
        self.store = store

    def memory(self, request: gr.Request | None) -> AsyncMemory:
        from vreason.memory import AsyncMemory

        return AsyncMemory(self.store, user=user_of(request), source="ui")

    def build(self, app: gr.Blocks) -> None:
        who = gr.Markdown(elem_id="mem-who")
        with gr.Row():
            query = gr.Textbox(
                label="Search your memory",
                placeholder="part #17, the March scan, a red circle...",
                elem_id="mem-query",
                scale=4,
                max_lines=1,
            )
            kind = gr.Dropdown(KINDS, value="all", label="Kind", elem_id="mem-kind", scale=1)
            search = gr.Button("Search", variant="primary", elem_id="mem-search", scale=1)
            refresh = gr.Button("Show newest", elem_id="mem-refresh", scale=1)
        table = gr.Dataframe(
            headers=HEADERS,
            value=[],
            interactive=False,
            wrap=True,
            elem_id="mem-table",
            column_widths=["7%", "14%", "9%", "10%", "52%", "8%"],
        )
        pictures = gr.Gallery(label="Pictures", columns=6, height=220, elem_id="mem-pictures", preview=False)
        with gr.Row():
            ids = gr.Textbox(
                label="Items to forget", placeholder="m3 m5 (or click a row)", elem_id="mem-ids", scale=4, max_lines=1
            )
            forget = gr.Button(FORGET, variant="stop", elem_id="mem-forget", scale=1)
        status = gr.Markdown(elem_id="mem-status")
        armed = gr.State("")

        shown = [who, table, pictures, status]
        app.load(self.listed, inputs=[kind], outputs=shown)
        refresh.click(self.listed, inputs=[kind], outputs=shown)
        kind.change(self.searched, inputs=[query, kind], outputs=shown)
        search.click(self.searched, inputs=[query, kind], outputs=shown)
        query.submit(self.searched, inputs=[query, kind], outputs=shown)
        table.select(self.picked, inputs=[ids], outputs=[ids])
        forget.click(self.forgot, inputs=[ids, armed, query, kind], outputs=[*shown, ids, armed, forget])

    # -- handlers (the request comes first: Gradio passes it by its annotation) --

    async def listed(self, request: gr.Request, kind: str = "all") -> tuple:
        try:
            mem = self.memory(request)
            items = await mem.list(kind=None if kind == "all" else kind, limit=LIST_LIMIT)
            stats = await mem.stats()
        except VReasonError as err:
            return gr.skip(), [], [], error_message(err)
        who = f"**{mem.user}**: {stats.items} items, {stats.images} pictures, {_size(stats.bytes)}."
        return who, _rows(items), await _thumbnails(mem, items), "" if items else "Nothing remembered yet."

    async def searched(self, request: gr.Request, query: str, kind: str) -> tuple:
        if not (query or "").strip():
            return await self.listed(request, kind)
        try:
            mem = self.memory(request)
            hits = await mem.recall(query.strip(), k=SEARCH_K)
        except VReasonError as err:
            return gr.skip(), gr.skip(), gr.skip(), error_message(err)
        hits = [h for h in hits if kind == "all" or h.item.kind == kind]
        items = [h.item for h in hits]
        found = f"{len(hits)} found for “{query.strip()}”." if hits else f"Nothing found for “{query.strip()}”."
        return gr.skip(), _rows(hits), await _thumbnails(mem, items), found

    def picked(self, current: str, event: gr.SelectData) -> str:
        """A click on a row adds its id to the ids to forget (a second click on it takes it out again)."""
        row = event.row_value or []
        if not row:
            return current
        chosen = _ID.findall(current or "")
        picked = str(row[0])
        chosen = [i for i in chosen if i != picked] if picked in chosen else [*chosen, picked]
        return " ".join(chosen)

    async def forgot(self, request: gr.Request, ids: str, armed: str, query: str, kind: str) -> tuple:
        chosen = _ID.findall(ids or "")
        if not chosen:
            return (
                *[gr.skip()] * 3,
                "Pick the items to forget: click their rows or type their ids.",
                gr.skip(),
                "",
                gr.update(value=FORGET),
            )
        key = " ".join(chosen)
        if armed != key:
            return (
                *[gr.skip()] * 3,
                f"Forget {key} for good? Click **{CONFIRM_FORGET}**.",
                gr.skip(),
                key,
                gr.update(value=CONFIRM_FORGET),
            )
        try:
            count = await self.memory(request).forget(ids=chosen)
        except VReasonError as err:
            return (*[gr.skip()] * 3, error_message(err), gr.skip(), "", gr.update(value=FORGET))
        who, table, pictures, _ = await self.searched(request, query, kind)
        said = f"Forgot {count} {'item' if count == 1 else 'items'}." if count else f"Nothing of {key} to forget."
        return who, table, pictures, said, "", "", gr.update(value=FORGET)


def _rows(entries: list[MemoryItem] | list[RecallHit]) -> list[list[Any]]:
    rows = []
    for entry in entries:
        item, score = (entry.item, f"{entry.score:.3f}") if hasattr(entry, "score") else (entry, "")
        rows.append([item.id, f"{item.created_at:%Y-%m-%d %H:%M}", item.kind, item.session, item.text, score])
    return rows


async def _thumbnails(mem: AsyncMemory, items: list[MemoryItem]) -> list[tuple[Image.Image, str]]:
    out: list[tuple[Image.Image, str]] = []
    seen: set[str] = set()
    for item in items:
        sha = item.image_sha256
        if not sha or sha in seen or len(out) >= PICTURES:
            continue
        seen.add(sha)
        try:
            data = await mem.image(sha, thumbnail=True)
        except VReasonError:
            continue  # forgotten meanwhile
        out.append((Image.open(io.BytesIO(data)), f"{item.id}: {item.text[:60]}"))
    return out


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} bytes"
