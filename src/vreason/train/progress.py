"""Training progress for people: a rich progress bar with loss, samples/s and ETA, as a Trainer callback."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import TrainerCallback


class RichProgressCallback(TrainerCallback):
    def __init__(self, samples_per_step: int, console: Console | None = None):
        self.samples_per_step = samples_per_step
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None
        self.task = None
        self.loss: float | None = None
        self.started = 0.0
        self.first_step = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} samples/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step,
                                           loss="-", rate="-")
        self.started = time.perf_counter()
        self.first_step = state.global_step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        done = state.global_step - self.first_step
        rate = done * self.samples_per_step / elapsed if elapsed > 0 else 0.0
        loss = "-" if self.loss is None else f"{self.loss:.4f}"
        self.progress.update(self.task, completed=state.global_step, loss=loss, rate=f"{rate:.1f}")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])
            if not self.console.is_terminal:  # logs and CI: a line per logging step instead of a live bar
                self.console.print(self._plain_line(state))
        if logs and self.progress is not None:
            shown = {k: v for k, v in logs.items() if k.startswith("eval_")}
            if shown:
                self.progress.console.print(
                    "eval @ step {}: {}".format(state.global_step, ", ".join(f"{k}={v:.4f}" for k, v in shown.items()))
                )

    def _plain_line(self, state: Any) -> str:
        elapsed = time.perf_counter() - self.started
        done = state.global_step - self.first_step
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (state.max_steps - state.global_step) / rate if rate > 0 else 0.0
        return (f"step {state.global_step}/{state.max_steps} loss {self.loss:.4f} "
                f"{rate * self.samples_per_step:.1f} samples/s ETA {eta / 60:.1f} min")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class StopCallback(TrainerCallback):
    """Ends training (with a final save) at the first step past `seconds` of training time, or at `step`: for runs
    that must fit a fixed slot, and for stopping a repeat of such a run at the same step. The learning-rate
    schedule keeps its planned length, so a stopped run ends above its final rate."""

    def __init__(self, seconds: float | None = None, step: int | None = None):
        self.seconds = seconds
        self.step = step
        self.started = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= state.max_steps:
            return
        late = self.seconds is not None and time.perf_counter() - self.started >= self.seconds
        if late or (self.step is not None and state.global_step >= self.step):
            control.should_training_stop = True
            control.should_save = True
