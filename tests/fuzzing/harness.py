"""The shared harness of the fuzz doors: cases, outcomes, the judge and the sandbox.

:func:`run_door` feeds a door's generated :class:`Case` inputs to EmoLab, counts the
outcomes (:data:`REFUSED`, :data:`VALID`, :data:`APPLIED`), records anything else raised as
a :class:`Crash`, compares the index checksum after every input and returns a
:class:`DoorReport`. :class:`Sandbox` runs a door's attempts in a child process, so that a
segfault or a hang in native code is reported as a crash instead of ending the run.
"""
from __future__ import annotations

import multiprocessing
import re
import signal
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REFUSED, VALID, APPLIED = "refused", "valid", "applied"


# =========================================================================== framework

@dataclass
class Case:
    """One generated input: its generator family, a readable description, the payload."""

    family: str
    description: str
    payload: Any


class Breach(AssertionError):
    """An outcome that is wrong although nothing crashed (NaN features, a file read...)."""


class Hang(BaseException):
    """Raised in the main thread when one input takes longer than the door's time limit."""


@dataclass
class Crash:
    family: str
    description: str
    error: str


@dataclass
class DoorReport:
    """What one door did with its inputs (see ``benchmarks/fuzz.py`` for the table)."""

    door: str
    inputs: int = 0
    refused: int = 0
    valid: int = 0
    applied: int = 0
    crashes: list[Crash] = field(default_factory=list)
    rows_changed: int = 0
    changes: list[str] = field(default_factory=list)
    slowest: float = 0.0
    slowest_case: str = ""
    seconds: float = 0.0
    families: Counter = field(default_factory=Counter)
    extra: list[str] = field(default_factory=list)
    applied_cases: list[str] = field(default_factory=list)
    family_slowest: dict = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.crashes and self.rows_changed == 0

    def failure_text(self, limit: int = 5) -> str:
        lines = [f"{self.door}: {len(self.crashes)} crashes, {self.rows_changed} rows changed"]
        for crash in self.crashes[:limit]:
            lines += [f"--- [{crash.family}] {crash.description}", crash.error.rstrip()]
        lines += self.changes[:limit] + self.extra[:limit]
        return "\n".join(lines)

    def signatures(self) -> Counter:
        """Crashes grouped by the failing line of EmoLab and the error: ``{signature: count}``."""
        return Counter(crash_signature(c.error) for c in self.crashes)

    def to_dict(self) -> dict:
        return {
            "door": self.door, "inputs": self.inputs, "refused": self.refused,
            "valid": self.valid, "applied": self.applied, "crashes": len(self.crashes),
            "rows_changed": self.rows_changed, "slowest_seconds": round(self.slowest, 3),
            "slowest_case": self.slowest_case, "seconds": round(self.seconds, 1),
            "families": dict(self.families),
            "family_slowest_seconds": {k: round(v, 3) for k, v in self.family_slowest.items()},
            "crash_signatures": dict(self.signatures()),
            "crash_details": [vars(c) for c in self.crashes[:20]],
            "changes": self.changes[:20], "extra": self.extra,
            "applied_cases": self.applied_cases,
        }


def crash_signature(error: str) -> str:
    """``file:line: last error line`` of the deepest EmoLab frame of a traceback."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', error)
    own = [(f, n) for f, n in frames if "/emolab/" in f] or frames[-1:]
    where = f"{Path(own[-1][0]).name}:{own[-1][1]}" if own else "?"
    last = error.strip().splitlines()[-1] if error.strip() else "?"
    return f"{where}: {last[:160]}"


def _pick(rng, options):
    """One of ``options``, as it is (``rng.choice`` would turn mixed lists into strings)."""
    options = list(options)
    return options[int(rng.integers(len(options)))]


def check_message(exc: BaseException) -> None:
    """A refusal must say something a person can read, not a traceback."""
    text = str(exc).strip()
    if not text or "Traceback" in text:
        raise Breach(f"{type(exc).__name__} without a readable message: {text!r}")


def rows_changed(before: dict, after: dict) -> tuple[int, list[str]]:
    """Rows changed between two :func:`emolab.index.integrity.checksum` results (approx.)."""
    changed, where = 0, []
    for table in sorted(set(before) | set(after)):
        (rows_a, digest_a), (rows_b, digest_b) = before.get(table, (0, 0)), after.get(table, (0, 0))
        if (rows_a, digest_a) != (rows_b, digest_b):
            n = max(abs(rows_b - rows_a), 1)
            changed += n
            where.append(f"{table}: {rows_a} -> {rows_b} rows")
    return changed, where


@dataclass
class _Alarm:
    """Per-input time limit for in-process doors (main thread only; else no limit)."""

    seconds: float

    def __enter__(self):
        self.armed = (self.seconds and threading.current_thread() is threading.main_thread()
                      and hasattr(signal, "setitimer"))
        if self.armed:
            def on_alarm(signum, frame):
                raise Hang(f"still running after {self.seconds:g} s")
            self.previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


def run_door(door, n: int, *, seed: int = 0, index=None, time_limit: float = 120.0,
             max_crashes: int = 10_000, progress=None) -> DoorReport:
    """Feed ``n`` generated inputs to ``door``; count outcomes, crashes and index changes.

    Parameters
    ----------
    door : AudioDoor, CsvDoor, SqlDoor or SearchDoor
    n : int
        Inputs to generate.
    seed : int
        Seed of the generator; the same seed gives the same inputs.
    index : emolab.index.Index, optional
        Compared (``integrity.checksum``) before and after every input.
    time_limit : float
        Seconds one input may take before it counts as a crash (a hang).
    progress : callable(done, n), optional
    """
    from emolab.index import integrity

    report = DoorReport(door.name)
    rng = np.random.default_rng(seed)
    baseline = integrity.checksum(index.con) if index is not None else None
    if hasattr(door, "warm_up"):
        door.warm_up()  # start-up costs (imports, compiled kernels) are not an input's
    started = time.perf_counter()
    for case in door.cases(rng, n):
        report.inputs += 1
        report.families[case.family] += 1
        t0 = time.perf_counter()
        outcome = None
        try:
            if getattr(door, "isolated", False):
                outcome = door.attempt(case, time_limit=time_limit)
            else:
                with _Alarm(time_limit):
                    outcome = door.attempt(case)
        except (Exception, Hang) as exc:  # noqa: BLE001  (anything else is a crash)
            if len(report.crashes) < max_crashes:
                text = exc.error if isinstance(exc, SandboxCrash) else traceback.format_exc()
                report.crashes.append(Crash(case.family, case.description, _short(text)))
        elapsed = time.perf_counter() - t0
        if elapsed > report.slowest:
            report.slowest, report.slowest_case = elapsed, f"[{case.family}] {case.description}"
        report.family_slowest[case.family] = max(report.family_slowest.get(case.family, 0.0),
                                                 elapsed)
        if outcome == REFUSED:
            report.refused += 1
        elif outcome == VALID:
            report.valid += 1
        elif outcome == APPLIED:
            report.applied += 1
            if len(report.applied_cases) < 50:
                report.applied_cases.append(f"[{case.family}] {case.description}")
        if index is not None:
            after = integrity.checksum(index.con)
            if after != baseline:
                if outcome != APPLIED:  # a valid file was applied: legitimate, re-baseline
                    changed, where = rows_changed(baseline, after)
                    report.rows_changed += changed
                    report.changes.append(f"[{case.family}] {case.description}: " + "; ".join(where))
                baseline = after
        if progress is not None:
            progress(report.inputs, n)
    if index is not None:
        problems = integrity.problems(index.con)
        if problems:
            report.crashes.append(Crash("integrity", "integrity.problems after the door",
                                        "\n".join(problems)))
    finish = getattr(door, "finish", None)
    if finish is not None:
        for problem in finish():
            report.crashes.append(Crash("after", "check after the door", problem))
    report.seconds = time.perf_counter() - started
    return report


def fuzz_index(path, *, n_songs: int = 8):
    """A populated index (``tests.app_harness.fill_index``) at ``path``, opened."""
    from emolab.index import open_index
    from tests.app_harness import fill_index

    fill_index(path, n_songs=n_songs)
    return open_index(path)


def assert_clean(report: DoorReport) -> None:
    """Fail with the first crashes and changes when a door did not behave."""
    assert report.inputs > 0, "no inputs were generated"
    assert report.clean, report.failure_text()


def _short(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else text[:1500] + "\n...\n" + text[-2400:]


# =========================================================================== sandbox

class SandboxCrash(Exception):
    """The child process crashed, hung, or the attempt raised something other than a refusal."""

    def __init__(self, error: str):
        super().__init__(error.splitlines()[-1] if error else "crash")
        self.error = error


def _sandbox_main(conn, door_factory, args) -> None:
    door = door_factory(*args)
    while True:
        try:
            case = conn.recv()
        except EOFError:
            return
        if case is None:
            return
        try:
            outcome = door.attempt(case)
            conn.send((outcome, None))
        except Exception:  # noqa: BLE001  (reported to the parent as a crash)
            conn.send((None, traceback.format_exc()))


class Sandbox:
    """A persistent child process that runs one door's attempts.

    A segfault or a hang in native code (a decoder) then costs a restart of the child and
    is reported as a crash of that input, instead of ending the whole run.
    """

    def __init__(self, door_factory, args=()):
        self.factory, self.args = door_factory, args
        self.ctx = multiprocessing.get_context("spawn")
        self.proc = None

    def _start(self):
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_sandbox_main, args=(child, self.factory, self.args),
                                     daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def run(self, case: Case, time_limit: float) -> str:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(case)
        if not self.conn.poll(time_limit):
            self._kill()
            raise SandboxCrash(f"Hang: no answer after {time_limit:g} s (child killed).")
        try:
            outcome, error = self.conn.recv()
        except (EOFError, ConnectionError):
            self.proc.join(5)
            code = self.proc.exitcode
            self.proc = None
            raise SandboxCrash(f"The process analysing this input died (exit code {code}; "
                               f"{_signal_name(code)}).") from None
        if error is not None:
            raise SandboxCrash(error)
        return outcome

    def _kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
            self.proc = None

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(10)
            except (OSError, ValueError):
                pass
            self._kill()


def _signal_name(code) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            pass
    return "no signal"
