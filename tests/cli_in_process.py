"""`vreason ARGS` run by the console script's own `main()` inside the test process.

A subprocess pays ~7 s of imports (torch, transformers) before it parses a flag; here they are paid once per
test run. Everything after the interpreter's start is the real thing: `main()` builds the typer app for the
command named, parses the arguments, runs the command, turns errors into one line and an exit code. Click's
CliRunner isolation gives it its own stdin, stdout, stderr and environment overrides. What a command sets
process-wide (the `vreason` logger's handler, environment defaults, --debug) is put back afterwards, and the
models it opened are closed.

Tests whose point is the process itself — start-up imports, network calls at start, a terminal, signals,
`python -m` — keep a real subprocess.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys


def run_vreason(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Like `subprocess.run(["vreason", *args], input=stdin, capture_output=True, text=True, env=...)`."""
    from typer.testing import CliRunner

    from vreason.cli import app as cli
    from vreason.cli import options

    opened = []
    open_model = options.open_model

    def recording_open_model(spec):
        opened.append(open_model(spec))
        return opened[-1]

    logger = logging.getLogger("vreason")
    saved_logger = (logger.handlers[:], logger.propagate, logger.level)
    saved_environ, saved_argv = dict(os.environ), sys.argv
    code = 0
    with CliRunner().isolation(input=stdin, env=env) as (stdout, stderr, _):
        sys.argv = ["vreason", *args]
        options.open_model = recording_open_model
        try:
            cli.main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            sys.stdout.flush()  # the isolation's text wrappers buffer
            sys.stderr.flush()
            options.open_model = open_model
            sys.argv = saved_argv
            cli.STATE["debug"] = False
            logger.handlers[:], logger.propagate = saved_logger[0], saved_logger[1]
            logger.setLevel(saved_logger[2])
            for vr in opened:
                vr.close()
        out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    os.environ.clear()
    os.environ.update(saved_environ)
    return subprocess.CompletedProcess(["vreason", *args], code, out, err)
