"""Shared benchmark plumbing: provenance (command, date, machine), JSON output, RSS sampling."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path

import psutil


def provenance() -> dict:
    """Command line, UTC date, machine description and git commit of this run (`git_dirty`:
    tracked files differed from that commit; None where git is unavailable)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                                  check=False)
        except OSError:
            return None
        return done.stdout if done.returncode == 0 else None

    commit = (git("rev-parse", "HEAD") or "").strip() or None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "command": " ".join(["python", "-m", _module_name(), *sys.argv[1:]]),
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "memory_gib": round(
            psutil.virtual_memory().total / 2**30, 1), "platform": platform.platform(),
            "python": platform.python_version()},
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status.strip()),
    }


def _module_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else sys.argv[0]


def write_result(result: dict, out: str | None) -> str:
    """`result` as indented JSON, also written to `out` when given (parents created)."""
    text = json.dumps(result, indent=2, default=float)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    return text


def emit(result: dict, out: str | None) -> None:
    """Prints `result` as JSON and writes it to `out` when given."""
    print(write_result(result, out))


class _PeriodicSampler:
    """Calls `_sample()` every `period_s` in a daemon thread inside the `with` block, and once
    more on exit."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period_s)

    def __enter__(self) -> _PeriodicSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class PeakRssSampler(_PeriodicSampler):
    """Samples the RSS of this process and of its child processes (TFF workers) every `period_s`."""

    def __init__(self, period_s: float = 0.5) -> None:
        super().__init__(period_s)
        self.peak_self_mb = 0.0
        self.peak_children_mb = 0.0
        self.peak_total_mb = 0.0
        self._me = psutil.Process()

    def _sample(self) -> None:
        try:
            own = self._me.memory_info().rss / 2**20
            kids = 0.0
            for child in self._me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    kids += child.memory_info().rss / 2**20
        except psutil.Error:
            return
        self.peak_self_mb = max(self.peak_self_mb, own)
        self.peak_children_mb = max(self.peak_children_mb, kids)
        self.peak_total_mb = max(self.peak_total_mb, own + kids)


class PidRssSampler(_PeriodicSampler):
    """Peak RSS (MB) of named processes `{name: pid}`, sampled every `period_s`."""

    def __init__(self, pids: dict[str, int], period_s: float = 0.25) -> None:
        super().__init__(period_s)
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak_mb = dict.fromkeys(pids, 0.0)

    def _sample(self) -> None:
        for name, proc in self.procs.items():
            with contextlib.suppress(psutil.Error):
                self.peak_mb[name] = max(self.peak_mb[name], proc.memory_info().rss / 2**20)
