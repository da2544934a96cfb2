"""Trigger wording and the event state machine, driven through the real Watcher by a scripted asker (a plain
callable answering from the frame's content), over frames pushed by the caller."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from vreason.live import PushSource, RollingWindow, Trigger, Watcher, WatchEvent, parse_yes, trigger_question


def test_trigger_questions():
    assert trigger_question("a red circle appears") == ("is there a red circle?", True)
    assert trigger_question("The blue square is gone.") == ("is there a blue square?", False)
    assert trigger_question("an orange star shows up") == ("is there an orange star?", True)
    question, expect = trigger_question("the door is open")
    assert "the door is open" in question
    assert expect
    with pytest.raises(ValueError, match="needs a condition"):
        trigger_question("  ")


def test_parse_yes():
    assert parse_yes("Yes.") is True
    assert parse_yes("no, there is not") is False
    assert parse_yes("I think yes") is True
    assert parse_yes("a circle") is None


def run(trigger: Trigger, answers: list[bool]) -> list[int]:
    return [i for i, a in enumerate(answers) if trigger.update(a, float(i))]


def test_fires_on_transitions_only():
    assert run(Trigger("x appears"), [False, True, True, True, False, True, False]) == [1, 5]
    assert run(Trigger("x appears"), [True, True, False]) == [0]  # already there when watching starts


def test_debounce_and_cooldown():
    assert run(Trigger("x appears", debounce=2), [True, False, True, True, True, False, True, True]) == [3, 7]
    # within the cool-down a new transition is swallowed, and not reported late while the condition holds
    assert run(Trigger("x appears", cooldown_s=5), [True, False, True, True, True, True, True, False, True]) == [0, 8]
    with pytest.raises(ValueError, match="debounce"):
        Trigger("x appears", debounce=0)


def test_watcher_events_from_scripted_answers(tmp_path):
    """A red frame between 3 s and 6 s: one event at the first window holding it, with its frames saved."""

    async def asker(video, question):
        red = video.frames[-1][..., 0].mean() > 128  # the newest frame decides
        return "yes" if red else "no"

    async def main():
        source = PushSource(max_queue=64)
        watcher = Watcher(
            source,
            asker,
            RollingWindow(4, 2),
            triggers=["a red screen appears"],
            every=2,
            questions=["what now?"],
            frames_dir=tmp_path,
        )
        items = []

        async def consume():
            async for item in watcher.events():
                items.append(item)

        task = asyncio.create_task(consume())
        for i in range(20):  # 10 s at 2 fps
            t = i * 0.5
            frame = np.zeros((32, 32, 3), np.uint8)
            if 3 <= t < 6:
                frame[..., 0] = 255
            await source.push(frame, t)
            await asyncio.sleep(0.01)
        await source.close()
        await asyncio.wait_for(task, 10)
        return watcher, items

    watcher, items = asyncio.run(main())
    events = [i for i in items if isinstance(i, WatchEvent)]
    assert len(events) == 1
    assert events[0].stream_time == pytest.approx(3.5, abs=0.6)
    assert events[0].answer == "yes"
    assert events[0].trigger == "a red screen appears"
    assert len(events[0].frames) == 2
    assert all((tmp_path / p).exists() for p in events[0].frames)
    periodic = [i for i in items if not isinstance(i, WatchEvent) and i.kind == "every"]
    assert len(periodic) >= 4
    assert all(p.question == "what now?" for p in periodic)
    assert watcher.stats.events == 1
    assert watcher.stats.frames_seen == 20
    assert watcher.stats.to_dict()["windows_asked"] == watcher.stats.windows_asked > 0


def test_a_failed_question_skips_one_window_and_the_watch_goes_on():
    from vreason.errors import EngineOverloadedError

    calls = []

    async def asker(video, question):
        calls.append(video.timestamps)
        if len(calls) == 2:
            raise EngineOverloadedError("the engine is busy")
        return "no"

    async def main():
        source = PushSource(max_queue=64)
        watcher = Watcher(source, asker, RollingWindow(4, 2), triggers=["a red screen appears"])

        async def feed():
            for i in range(8):
                await source.push(np.zeros((16, 16, 3), np.uint8), i * 0.5)
                await asyncio.sleep(0.01)
            await source.close()

        feeder = asyncio.create_task(feed())
        items = [item async for item in watcher.events()]
        await feeder
        return watcher, items

    watcher, items = asyncio.run(main())
    assert watcher.stats.errors == 1
    assert len(items) == len(calls) - 1 >= 3
