"""Load every real dataset and print one JSON object per dataset (one per line) with counts.

    python -m benchmarks.data_check --data_root=../shared/data [--cache_dir=DIR] [--out=F.json]

Expects `<data_root>/fer2013` (image folders, or a folder/file `fer2013.csv`),
`<data_root>/wesad_features` and `<data_root>/drivedb`. A dataset that fails to load gets
`"ok": false` and its error in its JSON, and the exit status is 1. The per-drive segment
table of drivedb goes to stderr so that stdout stays JSON lines.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from absl import app, flags

from emodata import drivedb, fer2013, wesad

DATASETS = ("fer2013", "wesad", "drivedb")


def check_fer2013(data_root: Path, cache_dir: str | None) -> dict[str, Any]:
    """Split and per-class counts of FER2013 and the load time (cold or from the cache)."""
    path = data_root / "fer2013"
    if not path.exists() and (data_root / fer2013.CSV_FILENAME).exists():
        path = data_root / fer2013.CSV_FILENAME
    start = time.perf_counter()
    data = fer2013.load_fer2013(path, cache_dir=cache_dir)
    seconds = time.perf_counter() - start
    return {
        "path": str(path),
        "rows": len(data),
        "splits": data.split_counts(),
        "class_counts": {s: data.split(s).class_counts() for s in fer2013.SPLITS},
        "load_seconds": round(seconds, 3),
        "from_cache": data.from_cache,
        "skipped": data.skipped,
    }


def check_wesad(data_root: Path) -> dict[str, Any]:
    """Rows, subjects, features and per-label counts of the WESAD feature CSVs."""
    data = wesad.load_wesad_features(data_root / "wesad_features")
    rows_per_subject = {f"S{s}": int((data.subject_ids == s).sum()) for s in data.subjects}
    return {
        "rows": len(data),
        "subjects": len(data.subjects),
        "features": len(data.feature_names),
        "label_counts": data.label_counts(),
        "rows_per_subject": rows_per_subject,
        "skipped": data.skipped,
    }


def check_drivedb(data_root: Path) -> dict[str, Any]:
    """Drives used/excluded (with reasons), labelled minutes per level, segment durations."""
    drives = drivedb.load_drivedb(data_root / "drivedb")
    labellings = [drivedb.label_drive(d) for d in drives.values()]
    print(drivedb.format_segment_summary(labellings), file=sys.stderr)
    used = [lab for lab in labellings if lab.usable]
    minutes = {level: 0.0 for level in drivedb.DRIVEDB3.labels}
    for lab in used:
        for level, seconds in lab.seconds_per_level().items():
            minutes[level] += seconds / 60
    return {
        "files": sum(len(d.source_files) for d in drives.values()),
        "drives": len(drives),
        "used": [lab.drive for lab in used],
        "excluded": {lab.drive: lab.excluded_reason for lab in labellings if not lab.usable},
        "labelled_minutes": {k: round(v, 1) for k, v in minutes.items()},
        "segment_minutes": {
            lab.drive: {s.name: round(s.duration_s / 60, 2) for s in lab.segments} for lab in used
        },
        "dropped_pulses_min": {
            lab.drive: [round(p.start_s / 60, 2) for p in lab.dropped_pulses]
            for lab in used
            if lab.dropped_pulses
        },
        "ignored_columns": {
            d.name: list(d.ignored_columns) for d in drives.values() if d.ignored_columns
        },
        "sample_rate_hz": {d.name: round(d.sample_rate_hz, 3) for d in drives.values()},
    }


def run_checks(
    data_root: str | os.PathLike[str],
    cache_dir: str | None = None,
    datasets: Sequence[str] = DATASETS,
) -> list[dict[str, Any]]:
    """Check each dataset, print its result as one JSON line and return the results:
    {'dataset', 'ok': True, ...counts} or {'dataset', 'ok': False, 'error'}."""
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"datasets must be among {list(DATASETS)}; got unknown {unknown}")
    root = Path(data_root)
    checks: dict[str, Callable[[], dict[str, Any]]] = {
        "fer2013": lambda: check_fer2013(root, cache_dir),
        "wesad": lambda: check_wesad(root),
        "drivedb": lambda: check_drivedb(root),
    }
    results = []
    for name in datasets:
        try:
            result = {"dataset": name, "ok": True, **checks[name]()}
        except Exception as e:  # any failure is reported in its JSON and sets exit status 1
            result = {"dataset": name, "ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def define_flags() -> None:
    """Define this benchmark's flags (only when run as a program, so importing
    `run_checks` never clashes with flags of the same name defined elsewhere)."""
    flags.DEFINE_string("data_root", None, "Folder holding the real datasets.")
    flags.DEFINE_string(
        "cache_dir", None, "FER2013 .npz cache folder (default ~/.cache/fedmultiemo)."
    )
    flags.DEFINE_string("out", None, "Also write all results as one JSON file here.")
    flags.DEFINE_list("datasets", list(DATASETS), f"Datasets to check, of {list(DATASETS)}.")


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {list(argv[1:])}")
    cfg = flags.FLAGS
    if not cfg.data_root:
        raise app.UsageError("--data_root is required")
    results = run_checks(cfg.data_root, cfg.cache_dir, cfg.datasets)
    ok = all(r["ok"] for r in results)
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(json.dumps({"ok": ok, "datasets": results}, indent=2) + "\n")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    define_flags()
    app.run(main)
