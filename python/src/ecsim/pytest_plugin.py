"""The fixtures: an embedded Kafka broker, scenario runs against it, and ``ecsim serve``.

- ``ecsim_broker`` (session): ``ecsim broker`` on a free port; ``.bootstrap`` is its address
  (``127.0.0.1:PORT``), for your client's ``bootstrap.servers``.
- ``ecsim_run`` (function): runs a scenario to the broker and returns a :class:`Run` — its run
  id (the ``ecsim.run`` header of each record it published), its summary, its exit status. Start
  your consumer first: the broker already holds every topic the run writes.
- ``ecsim_serve`` (function): ``ecsim serve`` with its own broker; ``.grpc`` is AliECS's
  control API (``o2control.Control``), ``.bootstrap`` the broker.

Each process is stopped at the end of its fixture's scope; what a process said on stderr is kept
for the failure message of a test that needed it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

#: How long a process may take to say it is ready, in seconds.
READY_TIMEOUT = 60.0


def ecsim_command() -> str:
    """The ``ecsim`` command: ``$ECSIM`` when set, else the one this wheel installed beside the
    Python that runs pytest, else the first on ``PATH``."""
    given = os.environ.get("ECSIM")
    if given:
        return given
    name = "ecsim.exe" if sys.platform == "win32" else "ecsim"
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file():
        return str(beside)
    found = shutil.which("ecsim")
    if found:
        return found
    raise RuntimeError(
        "no ecsim command: install the ecsim wheel into this environment, or set ECSIM"
    )


class _Process:
    """A long-running ecsim process: its first stdout line read, its stderr kept."""

    def __init__(self, args: List[str]):
        self.args = args
        self.process = subprocess.Popen(
            [ecsim_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: List[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def first_line(self) -> str:
        """The first line on stdout, or a failure saying what the process said instead."""
        assert self.process.stdout is not None
        result: List[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self.process.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(READY_TIMEOUT)
        line = result[0].strip() if result else ""
        if not line:
            self.stop()
            raise RuntimeError(
                f"ecsim {' '.join(self.args)} did not start within {READY_TIMEOUT:.0f} s "
                f"(exit {self.process.returncode}):\n{''.join(self.stderr)}"
            )
        return line

    def stop(self) -> None:
        """Interrupts the process as Ctrl-C would, and waits for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._drain.join(timeout=5)


@dataclass
class Broker:
    """An ``ecsim broker``: Kafka at ``bootstrap``, every message kept in memory."""

    bootstrap: str


@dataclass
class Run:
    """One ``ecsim run`` of a scenario: how it ended and what it published."""

    scenario: str
    #: The exit status: 0, or ecsim's documented codes (4: expectations not met, …).
    returncode: int
    #: The run's id, in the ``ecsim.run`` header of every record it published.
    run_id: str
    #: The broker it published to.
    bootstrap: str
    #: ``--summary-json``: environments, runs, messages per topic, expectations, delivery.
    summary: dict = field(repr=False)
    #: What ecsim logged.
    stderr: str = field(repr=False)

    @property
    def messages(self) -> int:
        """How many messages it published."""
        return int(self.summary["messages"]["total"])


@dataclass
class Serve:
    """An ``ecsim serve``: AliECS's control API at ``grpc``, its broker at ``bootstrap``."""

    grpc: str
    bootstrap: str


@pytest.fixture(scope="session")
def ecsim_broker() -> Iterator[Broker]:
    """An embedded Kafka broker for the session (``ecsim broker``)."""
    process = _Process(["broker", "--quiet"])
    try:
        yield Broker(bootstrap=process.first_line())
    finally:
        process.stop()


@pytest.fixture
def ecsim_run(ecsim_broker: Broker) -> Callable[..., Run]:
    """Runs a scenario to the session's broker: ``ecsim_run("scenario.toml", "--speed", "1")``.

    Extra arguments go to ``ecsim run``. A run that cannot start (a scenario with problems, a
    plugin that will not load) fails the test with ecsim's message; a run that ends with
    expectations not met returns its :class:`Run` (``returncode`` 4) for the test to judge.
    """

    def run(scenario: "str | os.PathLike[str]", *args: str) -> Run:
        command = [
            ecsim_command(),
            "run",
            os.fspath(scenario),
            "--brokers",
            ecsim_broker.bootstrap,
            "--summary-json",
            "-",
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        lines = done.stderr.splitlines()
        summary = None
        for line in lines:
            if line.startswith("{"):
                try:
                    summary = json.loads(line)
                    break
                except json.JSONDecodeError:
                    continue
        if summary is None:
            pytest.fail(
                f"ecsim run {os.fspath(scenario)} did not run (exit {done.returncode}):\n{done.stderr}"
            )
        return Run(
            scenario=os.fspath(scenario),
            returncode=done.returncode,
            run_id=summary["run_id"],
            bootstrap=ecsim_broker.bootstrap,
            summary=summary,
            stderr=done.stderr,
        )

    return run


@pytest.fixture
def ecsim_serve() -> Iterator[Serve]:
    """AliECS's control API over a live simulated core (``ecsim serve``), with its own broker."""
    process = _Process(["serve", "--quiet"])
    try:
        ready = json.loads(process.first_line())
        yield Serve(grpc=ready["grpc"], bootstrap=ready["broker"])
    finally:
        process.stop()
