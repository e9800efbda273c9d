"""Real-time harness entry point: a verified bundle + a live or replayed source -> JSON lines.

    python -m tflite_edge.harness_main --bundle=DIR \\
        [--frames=FOLDER|VIDEO|camera[:N]] \\
        [--physio_replay=driveNN.csv|S<k>_feats_4.csv|synthetic[:SEED]] \\
        [--delegate=edgetpu|/path/libdelegate.so] [--realtime] [--out=LINES.jsonl] \\
        [--summary_out=SUMMARY.json] [--max_events=N] [--fps=10]

`--frames`: a folder of image/.npy frames (played at `--fps`), a video file, or a camera.
`--physio_replay`: a drivedb drive (`emodata.drivedb`), a WESAD per-subject feature CSV (rows
every `--features_period_s`; the bundle must take precomputed features), or `synthetic[:SEED]`:
episode 0 of driver 0 of the synthetic cohort, whose camera frames are used too unless
`--frames` is given. `--delegate=edgetpu` loads the Edge TPU runtime (libedgetpu) for the face
model. The summary JSON is printed; errors (tampered bundle, missing delegate, bad paths) exit
with status 1 and one line on stderr.
"""

from __future__ import annotations

import sys

from tflite_edge.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import json
import platform
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from absl import app, flags

from tflite_edge.realtime import run_harness
from tflite_edge.sources import (
    Event,
    camera_source,
    drivedb_source,
    episode_source,
    features_source,
    image_folder_source,
    merge,
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


def frames_from_flag(frames: str, *, fps: float) -> Iterator[Event]:
    """`--frames`: `camera[:N]`, a folder of frames, or a video file."""
    match = _CAMERA.match(frames)
    if match:
        return camera_source(int(match.group(1) or 0))
    path = Path(frames)
    if path.is_dir():
        return image_folder_source(path, fps=fps)
    if path.is_file():
        return video_source(path)
    raise FileNotFoundError(f"--frames: {frames!r} is neither camera[:N], a folder nor a file")


def physio_from_flag(
    physio_replay: str, *, with_frames: bool, chunk_s: float, features_period_s: float
) -> Iterator[Event]:
    """`--physio_replay`: `synthetic[:SEED]`, a drivedb drive or a WESAD feature CSV."""
    match = _SYNTHETIC.match(physio_replay)
    if match:
        from emodata.synthetic_cohort import CohortConfig, generate_cohort  # noqa: PLC0415

        cohort = generate_cohort(1, int(match.group(1) or 0),
                                 CohortConfig(faces_per_class=1, episodes_per_driver=1))
        return episode_source(cohort.drivers[0].episodes[0], chunk_s=chunk_s, frames=with_frames)
    path = Path(physio_replay)
    if not path.is_file():
        raise FileNotFoundError(f"--physio_replay: {physio_replay!r} is neither synthetic[:SEED] "
                                "nor an existing file")
    if _DRIVE_FILE.match(path.name):
        return drivedb_source(path, chunk_s=chunk_s)
    wesad = _WESAD_FILE.match(path.name)
    if wesad:
        from emodata.wesad import load_wesad_features  # noqa: PLC0415

        data = load_wesad_features(path.parent, subjects=[int(wesad.group(1))])
        return features_source(data.features, period_s=features_period_s)
    raise ValueError(f"--physio_replay: file name {path.name!r} is neither driveNN.csv nor "
                     "S<k>_feats_4.csv")


def build_source(
    *,
    frames: str | None = None,
    physio_replay: str | None = None,
    fps: float = 10.0,
    chunk_s: float = 0.25,
    features_period_s: float = 5.0,
) -> Iterator[Event]:
    """The merged event stream of the `--frames` and `--physio_replay` flags."""
    parts = []
    if physio_replay:
        parts.append(physio_from_flag(physio_replay, with_frames=not frames, chunk_s=chunk_s,
                                      features_period_s=features_period_s))
    if frames:
        parts.append(frames_from_flag(frames, fps=fps))
    if not parts:
        raise ValueError("give --frames and/or --physio_replay; got neither")
    return merge(*parts)


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


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    f = flags.FLAGS
    try:
        source = build_source(frames=f.frames, physio_replay=f.physio_replay, fps=f.fps,
                              chunk_s=f.chunk_s, features_period_s=f.features_period_s)
        summary = run_harness(f.bundle, source, realtime=f.realtime, out_lines=f.out,
                              max_events=f.max_events, delegate_path=resolve_delegate(f.delegate),
                              face_variant=f.face_variant, num_threads=f.num_threads)
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"harness_main: error: {err}", file=sys.stderr)
        sys.exit(1)
    text = json.dumps(summary, indent=2)
    print(text)
    if f.summary_out:
        Path(f.summary_out).parent.mkdir(parents=True, exist_ok=True)
        Path(f.summary_out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
