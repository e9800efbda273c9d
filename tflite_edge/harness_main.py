"""Real-time harness entry point: a verified bundle + a live or replayed source -> JSON lines.

    python -m tflite_edge.harness_main --bundle=DIR \\
        [--frames=FOLDER|VIDEO|camera[:N]] \\
        [--physio_replay=driveNN.csv|S<k>_feats_4.csv|synthetic[:SEED]] \\
        [--delegate=edgetpu|/path/libdelegate.so] [--realtime] [--out=LINES.jsonl] \\
        [--summary_out=SUMMARY.json] [--max_events=N] [--fps=10] [--on_bad_row=error|skip]

`--frames`: a folder of image/.npy frames (played at `--fps`), a video file, or a camera.
`--physio_replay`: a drivedb drive (`emodata.drivedb`), a WESAD per-subject feature CSV (rows
every `--features_period_s`; the bundle must take precomputed features), or `synthetic[:SEED]`:
episode 0 of driver 0 of the synthetic cohort, whose camera frames are used too unless
`--frames` is given. `--on_bad_row=skip` drops bad rows of a drivedb drive or WESAD CSV (counted
in the summary's `source.skipped_rows`) instead of failing on the first one (`error`).
Before running, the replay is checked against the bundle: a WESAD feature CSV for a raw-signal
model (or raw signals for a precomputed-feature model) is refused; a signal the model's features
need but the source lacks (drivedb has no skin temperature) is reported once, with the quality
cap it implies. `--delegate=edgetpu` loads the Edge TPU runtime (libedgetpu) for the face model.
The summary JSON is printed (and written to `--summary_out`). Errors (tampered bundle, missing
delegate, bad paths, a mismatched replay) print one line on stderr and exit with status 2;
Ctrl-C stops cleanly: the summary so far (`"interrupted": true`) is printed and written, exit
status 130.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import json
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from absl import app, flags

from emocore.calibration import ReferenceStats
from emocore.cli import EXIT_INTERRUPTED, check_output_path, run_main
from emodata.errors import BAD_ROW_POLICIES, BadRowPolicy, check_on_bad_row
from tflite_edge.realtime import run_harness
from tflite_edge.sources import (
    Source,
    camera_source,
    drivedb_signals,
    drivedb_source,
    episode_source,
    features_source,
    image_folder_source,
    merge_sources,
    video_source,
)

EDGETPU_LIBRARIES = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib",
                     "Windows": "edgetpu.dll"}
_CAMERA = re.compile(r"^camera(?::(\d+))?$")
_SYNTHETIC = re.compile(r"^synthetic(?::(\d+))?$")
_DRIVE_FILE = re.compile(r"^drive\d+[a-z]?\.csv$")
_WESAD_FILE = re.compile(r"^S(\d+)_feats_4\.csv$")


def resolve_delegate(delegate: str | None) -> str | None:
    """`--delegate` -> a library path for `TFLiteModel(delegate_path=...)` (None = CPU)."""
    if not delegate:
        return None
    if delegate == "edgetpu":
        return EDGETPU_LIBRARIES.get(platform.system(), "libedgetpu.so.1")
    return delegate


def frames_from_flag(frames: str, *, fps: float) -> Source:
    """`--frames`: `camera[:N]`, a folder of frames, or a video file."""
    match = _CAMERA.match(frames)
    if match:
        return Source(camera_source(int(match.group(1) or 0)), f"--frames={frames}", frames=True)
    path = Path(frames)
    if path.is_dir():
        return Source(image_folder_source(path, fps=fps), f"--frames={frames}", frames=True)
    if path.is_file():
        return Source(video_source(path), f"--frames={frames}", frames=True)
    raise FileNotFoundError(f"--frames: {frames!r} is neither camera[:N], a folder nor a file")


def physio_from_flag(
    physio_replay: str, *, with_frames: bool, chunk_s: float, features_period_s: float,
    on_bad_row: BadRowPolicy = "error",
) -> Source:
    """`--physio_replay`: `synthetic[:SEED]`, a drivedb drive or a WESAD feature CSV.

    `on_bad_row` ('error' or 'skip') is the loaders' bad-row policy for drivedb and WESAD files.
    """
    check_on_bad_row(on_bad_row)
    match = _SYNTHETIC.match(physio_replay)
    if match:
        from emodata.synthetic_cohort import CohortConfig, generate_cohort  # noqa: PLC0415

        cohort = generate_cohort(1, int(match.group(1) or 0),
                                 CohortConfig(faces_per_class=1, episodes_per_driver=1))
        episode = cohort.drivers[0].episodes[0]
        return Source(episode_source(episode, chunk_s=chunk_s, frames=with_frames),
                      f"--physio_replay={physio_replay} (synthetic episode)",
                      signals=tuple(episode.streams), frames=with_frames)
    path = Path(physio_replay)
    if not path.is_file():
        raise FileNotFoundError(f"--physio_replay: {physio_replay!r} is neither synthetic[:SEED] "
                                "nor an existing file")
    if _DRIVE_FILE.match(path.name):
        from emodata.drivedb import read_drive  # noqa: PLC0415

        drive = read_drive(path, on_bad_row=on_bad_row)
        return Source(drivedb_source(drive, chunk_s=chunk_s),
                      f"--physio_replay={physio_replay} (drivedb drive)",
                      signals=tuple(drivedb_signals(drive)), skipped_rows=drive.skipped)
    wesad = _WESAD_FILE.match(path.name)
    if wesad:
        from emodata.wesad import load_wesad_features  # noqa: PLC0415

        data = load_wesad_features(path.parent, subjects=[int(wesad.group(1))],
                                   on_bad_row=on_bad_row)
        return Source(features_source(data.features, period_s=features_period_s),
                      f"--physio_replay={physio_replay} (WESAD feature CSV)",
                      feature_names=tuple(data.feature_names), skipped_rows=data.skipped)
    raise ValueError(f"--physio_replay: file name {path.name!r} is neither driveNN.csv nor "
                     "S<k>_feats_4.csv")


def build_source(
    *,
    frames: str | None = None,
    physio_replay: str | None = None,
    fps: float = 10.0,
    chunk_s: float = 0.25,
    features_period_s: float = 5.0,
    on_bad_row: BadRowPolicy = "error",
) -> Source:
    """The merged event stream of the `--frames` and `--physio_replay` flags (a `Source`:
    iterate it for the events; it also says what it delivers)."""
    parts = []
    if physio_replay:
        parts.append(physio_from_flag(physio_replay, with_frames=not frames, chunk_s=chunk_s,
                                      features_period_s=features_period_s,
                                      on_bad_row=on_bad_row))
    if frames:
        parts.append(frames_from_flag(frames, fps=fps))
    if not parts:
        raise ValueError("give --frames and/or --physio_replay; got neither")
    return merge_sources(*parts)


def read_driver_profile(path: Path | None) -> ReferenceStats | None:
    """The profile at `path` (None when no path or no file yet); ValueError when unreadable."""
    if path is None or not path.exists():
        return None
    try:
        return ReferenceStats.from_json_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:
        raise ValueError(f"--driver_profile {str(path)!r} is not a driver profile: {e}") from None


def write_driver_profile(path: Path, profile: ReferenceStats | None,
                         session: dict | None) -> None:
    """Merges the session's reference statistics into the profile and writes it to `path`."""
    if session is None:
        raise ValueError("--driver_profile: the bundle's physio model is not calibrated (no "
                         "session reference to store)")
    stats = ReferenceStats.from_json_dict(session)
    merged = stats if profile is None else profile.merge(stats)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged.to_json_dict()) + "\n", encoding="utf-8")


def _define_flags() -> None:
    flags.DEFINE_string("bundle", None, "Model bundle directory.", required=True)
    flags.DEFINE_string("frames", None, "Frames: FOLDER, VIDEO file or camera[:N].")
    flags.DEFINE_string("physio_replay", None,
                        "driveNN.csv, S<k>_feats_4.csv or synthetic[:SEED].")
    flags.DEFINE_string("delegate", None, "'edgetpu' or a delegate library path.")
    flags.DEFINE_string("face_variant", None, "Face model variant (default: by preference).")
    flags.DEFINE_bool("realtime", False, "Pace replays in real time (drops late frames).")
    flags.DEFINE_string("out", None, "Write the fused JSON lines here.")
    flags.DEFINE_string("summary_out", None, "Write the summary JSON here.")
    flags.DEFINE_integer("max_events", None, "Stop after this many events.")
    flags.DEFINE_float("fps", 10.0, "Frame rate of a frames folder.")
    flags.DEFINE_float("chunk_s", 0.25, "Packet length of replayed signals (s).")
    flags.DEFINE_float("features_period_s", 5.0, "Time between WESAD feature rows (s).")
    flags.DEFINE_integer("num_threads", 1, "TFLite interpreter threads.")
    flags.DEFINE_string("driver_profile", None,
                        "The driver's calibration profile (JSON reference statistics): read as "
                        "the physio calibration's prior when it exists, and updated with this "
                        "session's reference windows at the end (created if absent).")
    flags.DEFINE_enum("on_bad_row", "error", list(BAD_ROW_POLICIES),
                      "Bad rows of a drivedb drive / WESAD CSV: fail on the first one (error) or "
                      "drop them and count them in the summary (skip).")


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    f = flags.FLAGS
    out = check_output_path(f.out, "--out")
    summary_out = check_output_path(f.summary_out, "--summary_out")
    source = build_source(frames=f.frames, physio_replay=f.physio_replay, fps=f.fps,
                          chunk_s=f.chunk_s, features_period_s=f.features_period_s,
                          on_bad_row=f.on_bad_row)
    profile_path = check_output_path(f.driver_profile, "--driver_profile")
    profile = read_driver_profile(profile_path)
    summary = run_harness(f.bundle, source, realtime=f.realtime, out_lines=out,
                          max_events=f.max_events, delegate_path=resolve_delegate(f.delegate),
                          face_variant=f.face_variant, num_threads=f.num_threads,
                          stop_on_interrupt=True, driver_profile=profile)
    if profile_path is not None:
        write_driver_profile(profile_path, profile, summary["physio_session_reference"])
    text = json.dumps(summary, indent=2)
    print(text)
    if summary_out is not None:
        summary_out.parent.mkdir(parents=True, exist_ok=True)
        summary_out.write_text(text + "\n", encoding="utf-8")
    if summary["interrupted"]:
        print("harness_main: interrupted; the summary covers the events handled so far",
              file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    _define_flags()
    run_main(main)
