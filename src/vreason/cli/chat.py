"""`vreason chat [IMAGE|VIDEO...]`: interactive multi-turn chat; history is kept, `/image PATH` adds an image,
`/video PATH [fps=2 max_frames=64 start=5 end=30 ...]` a clip.

On a terminal, lines are read with readline (arrow keys, Ctrl-R, and the lines of earlier sessions, kept in
`~/.local/share/vreason/chat_history`, or `$VREASON_CHAT_HISTORY`); piped input is read line by line as is.
A clip is sampled and decoded once, when it is attached; it joins the history with the next question, so
follow-up questions are about it too (and reuse its KV: `--stats` shows the prompt tokens reused).

With `--user NAME --keep-notes` the conversation is also condensed into memory notes (memory/notes.py): the
older turns once it grows long, the rest when the session ends (/exit, Ctrl-D, end of input) or at /reset.
Without --keep-notes nothing is written unless asked (/remember, "Remember: ...").

`/save FILE` writes the conversation as JSON and `/load FILE` restores one (cli/chat_saved.py says how clips
and images are kept).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vreason.api import Conversation, VReason
from vreason.cli import memory as m
from vreason.cli import options as o
from vreason.cli.chat_saved import VideoSources, load_conversation, save_conversation, video_options
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import notice, print_stats, print_stream
from vreason.engine.types import Message
from vreason.errors import InvalidRequestError, VReasonError
from vreason.media import PreparedVideo

HELP = """commands:
  /image PATH   attach an image (or URL) to your next question
  /video PATH [fps=2 max_frames=64 start=5 end=30 num_frames=.. min_frames=.. max_pixels=..]
                attach a video (or URL); follow-up questions are about it too
  /reset        forget the conversation and anything attached (keeps the system prompt)
  /save FILE    write the conversation to FILE (JSON; images included, videos by path or URL)
  /load FILE    replace the conversation with the one saved in FILE
  /remember     keep this conversation as one memory note (with --user)
  /help         this text
  /exit         leave (Ctrl-D works too)
on a terminal: arrow keys edit and recall lines, earlier sessions' lines included"""

HISTORY_ENV = "VREASON_CHAT_HISTORY"
HISTORY_LENGTH = 1000  # lines kept across sessions


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


def _describe(messages: list[Message]) -> str:
    turns = sum(m.role == "user" for m in messages)
    images = sum(len(m.images) for m in messages)
    clips = sum(len(m.videos) for m in messages)
    return f"{turns} turn(s), {images} image(s)" + (f", {clips} video(s)" if clips else "")


def _describe_video(source: str, video: PreparedVideo) -> str:
    times = video.timestamps
    return (f"video attached: {source}, {video.num_frames} frames from {times[0]:.1f} to {times[-1]:.1f} s at "
            f"{video.size[0]}x{video.size[1]}; it goes with your next question")


@with_option_groups
def chat(
    loading: o.LoadingOptions,
    sampling: ChatSampling,
    backend: o.BackendOptions,
    images: Annotated[
        list[str] | None, typer.Argument(help="Images and videos for the first question (a file is a video by "
                                              "its content).")
    ] = None,
    system: o.SystemOpt = None,
    stats: Annotated[bool, typer.Option("--stats", help="Print token counts and timings after each answer.")] = False,
    user: m.UserOpt = None,
    memory: m.MemoryFlagOpt = None,
    memory_dir: m.MemoryDirOpt = None,
    memory_url: m.MemoryUrlOpt = None,
    keep_notes: Annotated[
        bool,
        typer.Option(
            "--keep-notes",
            help="With --user: condense the conversation into memory notes when it ends or grows long.",
        ),
    ] = False,
) -> None:
    """Chat about images and videos, turn after turn (with --user: with that user's memory)."""
    from vreason.cli.ask import is_video_source

    overrides = sampling.overrides()
    with_memory = m.memory_wanted(user, memory)
    if keep_notes and not with_memory:
        raise typer.BadParameter("--keep-notes needs a memory: add --user NAME (and not --no-memory)")
    vr = o.open_model(o.engine_spec(loading, backend))
    remembered = m.open_memory(user, memory_dir, memory_url, vr) if with_memory else None
    conversation = vr.conversation(system, memory=remembered, keep_notes=keep_notes)
    videos = VideoSources()
    pending: list = []
    for source in images or []:
        pending.append(videos.attach(vr, source, {}) if is_video_source(source) else vr.prepare_image(source))
    notice(f"chatting with {vr.model_name}; /help for commands, /exit to leave")
    reader = LineReader(history_path())
    try:
        _loop(vr, conversation, pending, reader, overrides, stats, videos)
    finally:
        reader.save()
        if conversation.notes is not None:
            _end_notes(conversation)


def _noted(conversation: Conversation, before: int) -> None:
    """Say which notes --keep-notes wrote since `before` notes had been written."""
    if conversation.notes is not None:
        for note in conversation.notes.notes[before:]:
            print(f"(kept as note [{note.id}]: {note.text[:80]})")


def _end_notes(conversation: Conversation) -> None:
    before = len(conversation.notes.notes)
    try:
        conversation.close()
    except VReasonError as err:  # the session ends anyway; say why its note is missing
        print(f"error: conversation not kept as a note: {err}")
    _noted(conversation, before)


def _loop(vr: VReason, conversation: Conversation, pending: list, reader: LineReader, overrides: dict,
          stats: bool, videos: VideoSources) -> None:
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
            elif command == "/remember":
                if conversation.memory is None:
                    print("error: /remember needs a memory: start vreason chat with --user NAME")
                else:
                    try:
                        note = conversation.memory.remember_conversation(conversation.messages)
                        print(f"(remembered as [{note.id}]: {note.text[:80]})")
                    except VReasonError as err:
                        print(f"error: {err}")
            elif command == "/reset":
                before = len(conversation.notes.notes) if conversation.notes is not None else 0
                try:
                    conversation.reset()
                except VReasonError as err:  # its note failed; the conversation is cleared all the same
                    print(f"error: conversation not kept as a note: {err}")
                _noted(conversation, before)
                pending.clear()
                print("(conversation cleared)")
            elif command == "/image":
                try:
                    pending.append(vr.prepare_image(argument))
                    print(f"(image attached: {argument}; it goes with your next question)")
                except VReasonError as err:  # a bad image must not end the session
                    print(f"error: {err}")
            elif command == "/video":
                try:
                    source, *words = shlex.split(argument) or [""]  # a quoted path may hold spaces
                    if not source:
                        raise InvalidRequestError("/video needs a file or URL, e.g. /video clip.mp4 fps=2")
                    part = videos.attach(vr, source, video_options(words))
                    pending.append(part)
                    print(f"({_describe_video(source, part.source)})")
                except (VReasonError, ValueError) as err:  # a bad clip (or unclosed quote) must not end the session
                    print(f"error: {err}")
            elif command in ("/save", "/load"):
                if not argument:
                    print(f"error: {command} needs a file name, e.g. {command} chat.json")
                    continue
                path = Path(argument).expanduser()
                try:
                    if command == "/save":
                        save_conversation(conversation, vr.model_name, path, videos)
                        print(f"(saved {_describe(conversation.messages)} to {path})")
                    else:
                        # a bad file leaves the conversation as it was
                        loaded = load_conversation(vr, path, videos)
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
        before = len(conversation.notes.notes) if conversation.notes is not None else 0
        try:
            print("assistant> ", end="", flush=True)
            answer = print_stream(conversation.stream(line, pending, **overrides))
            _noted(conversation, before)
            pending.clear()
            if conversation.memory is not None and conversation.last_memory is not None:
                m.print_turn_memory(conversation.last_memory)
            if stats and answer is not None:
                print_stats(answer)
                u = answer.usage
                if u.video_tokens:  # what a follow-up about a clip reuses shows here
                    notice(f"{u.image_tokens} visual tokens ({u.video_tokens} from video), {u.cached_tokens} prompt "
                           "tokens reused from the cache")
        except VReasonError as err:
            print(f"\nerror: {err}")
