"""`vreason chat [IMAGE...]`: interactive multi-turn chat; history is kept, `/image PATH` adds an image.

On a terminal, lines are read with readline (arrow keys, Ctrl-R, and the lines of earlier sessions, kept in
`~/.local/share/vreason/chat_history`, or `$VREASON_CHAT_HISTORY`); piped input is read line by line as is.
`/save FILE` writes the conversation as JSON (OpenAI-style messages, images inlined as PNG data URIs, so the
file stands alone) and `/load FILE` restores one. The conversation itself lives in `api.Conversation`; this
module only keeps the images attached for the next question.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vreason.api import Conversation, VReason
from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import notice, print_stats, print_stream
from vreason.engine.backends.image_cache import image_data_uri
from vreason.engine.types import ImagePart, Message, TextPart
from vreason.errors import VReasonError
from vreason.media import PreparedImage

HELP = """commands:
  /image PATH   attach an image (or URL) to your next question
  /reset        forget the conversation and any attached image (keeps the system prompt)
  /save FILE    write the conversation to FILE (JSON, images included)
  /load FILE    replace the conversation with the one saved in FILE
  /help         this text
  /exit         leave (Ctrl-D works too)
on a terminal: arrow keys edit and recall lines, earlier sessions' lines included"""

HISTORY_ENV = "VREASON_CHAT_HISTORY"
HISTORY_LENGTH = 1000  # lines kept across sessions
SAVE_FORMAT = "vreason-chat"
SAVE_VERSION = 1


ChatSampling = Annotated[
    o.SamplingOptions, o.Fields("temperature", "top_p", "top_k", "max_new_tokens", "presence_penalty", "seed")
]


def history_path() -> Path:
    """Where the line history lives: $VREASON_CHAT_HISTORY, else the XDG data dir."""
    if os.environ.get(HISTORY_ENV):
        return Path(os.environ[HISTORY_ENV]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "vreason" / "chat_history"


class LineReader:
    """`input()` with readline's editing and a persistent history when stdin is a terminal, plain otherwise."""

    def __init__(self, path: Path):
        self.path = path
        self.readline: Any = None
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            return
        try:
            import readline  # importing it is what gives input() line editing
        except ImportError:  # Python built without readline (Windows): plain input, as when piped
            return
        self.readline = readline
        readline.set_history_length(HISTORY_LENGTH)
        try:
            readline.read_history_file(str(path))
        except FileNotFoundError:
            pass
        except OSError as err:  # an unreadable history must not keep anyone from chatting
            notice(f"line history not loaded ({path}: {err.strerror or err})")

    def read(self, prompt: str) -> str:
        return input(prompt)

    def save(self) -> None:
        if self.readline is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.readline.write_history_file(str(self.path))
        except OSError as err:
            notice(f"line history not saved ({self.path}: {err.strerror or err})")


def conversation_json(conversation: Conversation, model: str) -> dict[str, Any]:
    """The conversation as OpenAI-style messages; every image inlined as a PNG data URI (round-trips exactly,
    and does not depend on the original file still being there)."""
    messages = []
    for message in conversation.messages:
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                source = part.source
                url = image_data_uri(source.image) if isinstance(source, PreparedImage) else str(source)
                parts.append({"type": "image_url", "image_url": {"url": url}})
        messages.append({"role": message.role, "content": parts})
    return {"format": SAVE_FORMAT, "version": SAVE_VERSION, "model": model, "messages": messages}


def save_conversation(conversation: Conversation, model: str, path: Path) -> None:
    path.write_text(json.dumps(conversation_json(conversation, model), indent=1) + "\n", encoding="utf-8")


def load_conversation(vr: VReason, path: Path) -> list[Message]:
    """The messages saved in `path`, images prepared (decoded and checked once); ValueError says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a saved conversation (not JSON: {err})") from None
    raw = data.get("messages") if isinstance(data, dict) else data  # a bare list of messages is accepted too
    if not isinstance(raw, list):
        raise ValueError(f"{path} is not a saved conversation (no 'messages' list)")
    messages = []
    for index, item in enumerate(raw):
        try:
            message = Message.from_dict(item)
            parts = [ImagePart(vr.prepare_image(p.source)) if isinstance(p, ImagePart) else p for p in message.content]
        except VReasonError as err:
            raise ValueError(f"{path}: message {index}: {err}") from None
        messages.append(Message(message.role, parts))
    return messages


def _describe(messages: list[Message]) -> str:
    turns = sum(m.role == "user" for m in messages)
    images = sum(len(m.images) for m in messages)
    return f"{turns} turn(s), {images} image(s)"


@with_option_groups
def chat(
    loading: o.LoadingOptions,
    sampling: ChatSampling,
    backend: o.BackendOptions,
    images: Annotated[list[str] | None, typer.Argument(help="Images for the first question.")] = None,
    system: o.SystemOpt = None,
    stats: Annotated[bool, typer.Option("--stats", help="Print token counts and timings after each answer.")] = False,
) -> None:
    """Chat about images, turn after turn."""
    overrides = sampling.overrides()
    vr = o.open_model(o.engine_spec(loading, backend))
    conversation = vr.conversation(system)
    pending: list = []
    for source in images or []:
        pending.append(vr.prepare_image(source))
    notice(f"chatting with {vr.model_name}; /help for commands, /exit to leave")
    reader = LineReader(history_path())
    try:
        _loop(vr, conversation, pending, reader, overrides, stats)
    finally:
        reader.save()


def _loop(vr: VReason, conversation: Conversation, pending: list, reader: LineReader, overrides: dict,
          stats: bool) -> None:
    while True:
        try:
            line = reader.read("you> ")
        except EOFError:
            print()
            return
        except KeyboardInterrupt:  # Ctrl-C drops the line being typed, as in a shell; Ctrl-D leaves
            print()
            continue
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            command, _, argument = line.partition(" ")
            argument = argument.strip()
            if command in ("/exit", "/quit"):
                return
            if command == "/help":
                print(HELP)
            elif command == "/reset":
                conversation.reset()
                pending.clear()
                print("(conversation cleared)")
            elif command == "/image":
                try:
                    pending.append(vr.prepare_image(argument))
                    print(f"(image attached: {argument}; it goes with your next question)")
                except VReasonError as err:  # a bad image must not end the session
                    print(f"error: {err}")
            elif command in ("/save", "/load"):
                if not argument:
                    print(f"error: {command} needs a file name, e.g. {command} chat.json")
                    continue
                path = Path(argument).expanduser()
                try:
                    if command == "/save":
                        save_conversation(conversation, vr.model_name, path)
                        print(f"(saved {_describe(conversation.messages)} to {path})")
                    else:
                        loaded = load_conversation(vr, path)  # a bad file leaves the conversation as it was
                        conversation.reset()  # a new conversation id too: the loaded one is not the old one
                        conversation.messages = loaded
                        pending.clear()
                        print(f"(loaded {_describe(conversation.messages)} from {path})")
                except OSError as err:
                    print(f"error: cannot write {path}: {err.strerror or err}")
                except ValueError as err:
                    print(f"error: {err}")
            else:
                print(f"unknown command {command}; /help lists them")
            continue
        try:
            print("assistant> ", end="", flush=True)
            answer = print_stream(conversation.stream(line, pending, **overrides))
            pending.clear()
            if stats and answer is not None:
                print_stats(answer)
        except VReasonError as err:
            print(f"\nerror: {err}")
