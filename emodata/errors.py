"""Errors and the bad-row policy shared by the real-data loaders (FER2013, WESAD, drivedb)."""

from __future__ import annotations

import logging
import os
from typing import Literal

BadRowPolicy = Literal["error", "skip"]
BAD_ROW_POLICIES: tuple[str, ...] = ("error", "skip")


class DataFormatError(ValueError):
    """A data file does not have the documented format; the message names the file and line."""


def check_on_bad_row(on_bad_row: str) -> None:
    """Raise ValueError unless `on_bad_row` is one of `BAD_ROW_POLICIES`."""
    if on_bad_row not in BAD_ROW_POLICIES:
        raise ValueError(f"on_bad_row must be one of {list(BAD_ROW_POLICIES)}; got {on_bad_row!r}")


def require_exists(path: str | os.PathLike[str], what: str) -> None:
    """Raise FileNotFoundError naming `what` and `path` when `path` does not exist."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: {os.fspath(path)!r} does not exist")


def log_skipped(logger: logging.Logger, source: str, skipped: int, example: str | None) -> None:
    """Log (warning) how many bad rows/files of `source` were skipped, with one example reason."""
    if skipped:
        logger.warning(
            "%s: skipped %d bad row(s)/file(s) (on_bad_row='skip'); first: %s",
            source,
            skipped,
            example,
        )
