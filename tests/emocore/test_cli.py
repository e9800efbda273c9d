"""Tests for emocore.cli: one-line errors and exit codes shared by the entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ml_collections import ConfigDict

from emocore.cli import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    check_output_path,
    one_line,
    unknown_config_key,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# A tiny entry point with a config flag (no TensorFlow: fast).
_ENTRY_POINT = textwrap.dedent(
    """
    import sys
    from absl import flags
    from emocore.cli import define_config_file, run_main

    sys.argv[0] = "tiny_main"
    _CONFIG = define_config_file("config", "configs/face_smoke.py", "config")
    _WHAT = flags.DEFINE_string("what", "ok", "ok | value_error | os_error | interrupt | bug")

    def main(argv):
        what = _WHAT.value
        if what == "value_error":
            raise ValueError("config.train.rounds must be >= 1;\\n got 0")
        if what == "os_error":
            open("/no/such/dir/file.txt")
        if what == "interrupt":
            raise KeyboardInterrupt
        if what == "bug":
            raise RuntimeError("a bug keeps its traceback")
        print("rounds", _CONFIG.value.train.rounds)

    run_main(main)
    """
)


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _ENTRY_POINT, *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60, env=env)


def _config() -> ConfigDict:
    return ConfigDict({"seed": 0, "train": {"rounds": 3, "batch_size": 8},
                       "data": {"source": "synthetic"}})


def test_unknown_config_key_names_close_matches_and_allowed_keys():
    assert unknown_config_key(_config(), "train.rounds") is None
    assert unknown_config_key(_config(), "train.roudns") == (
        "unknown config key 'train.roudns'; did you mean 'train.rounds'? "
        "(keys of config.train: batch_size, rounds)")
    assert unknown_config_key(_config(), "trian.rounds") == (
        "unknown config key 'trian.rounds'; did you mean 'train.rounds'? "
        "(keys of config: data, seed, train)")
    assert unknown_config_key(_config(), "bogus_key") == (
        "unknown config key 'bogus_key' (keys of config: data, seed, train)")
    assert unknown_config_key(_config(), "seed.x") == (
        "unknown config key 'seed.x': config.seed is a value (int), not a group of keys")


def test_one_line():
    assert one_line(ValueError("a\n  b\tc")) == "a b c"
    assert one_line(KeyError("k")) == "k"
    assert one_line(ValueError()) == "ValueError"


def test_check_output_path(tmp_path):
    (tmp_path / "file").write_text("x")
    assert check_output_path(None, "--out") is None
    assert check_output_path(tmp_path / "new" / "deeper" / "x.json", "--out") == (
        tmp_path / "new" / "deeper" / "x.json")
    with pytest.raises(ValueError, match=r"--out: cannot write '.*file/x\.json': '.*file' is a "
                                         "file, not a folder"):
        check_output_path(tmp_path / "file" / "x.json", "--out")
    with pytest.raises(ValueError, match="--summary_out: expected a file path; got .* folder"):
        check_output_path(tmp_path, "--summary_out")


@pytest.mark.parametrize(("args", "message"), [
    (["--config.bogus_key=3"],  # default config file: ml_collections fails at definition time
     "tiny_main: error: --config.bogus_key: unknown config key 'bogus_key' (keys of config: "
     "aggregation, data, faults, model, partition, personalization, privacy, seed, "
     "train)"),
    (["--config=configs/face_smoke.py", "--config.train.roudns=3"],  # given file: at parse time
     "tiny_main: error: --config.train.roudns: unknown config key 'train.roudns'; did you mean "
     "'train.rounds'? (keys of config.train: "),
    (["--config=configs/no_such_config.py"],
     "tiny_main: error: --config: cannot load the config file 'configs/no_such_config.py': "
     "[Errno 2] No such file or directory"),
    (["--config.train.rounds=abc"],
     "tiny_main: error: flag --config.train.rounds=abc: invalid literal for int()"),
    (["--no_such_flag"], "tiny_main: error: Unknown command line flag 'no_such_flag'"),
    (["--what=value_error"], "tiny_main: error: config.train.rounds must be >= 1; got 0"),
    (["--what=os_error"], "tiny_main: error: [Errno 2] No such file or directory: "
                          "'/no/such/dir/file.txt'"),
])
def test_user_errors_are_one_line_with_exit_status_2(args, message):
    result = _run(*args)
    assert result.returncode == EXIT_USAGE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr


def test_a_valid_override_runs():
    result = _run("--config.train.rounds=7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "rounds 7"


def test_ctrl_c_is_exit_130_and_a_bug_keeps_its_traceback():
    interrupted = _run("--what=interrupt")
    assert interrupted.returncode == EXIT_INTERRUPTED
    assert interrupted.stderr.strip() == "tiny_main: interrupted"
    bug = _run("--what=bug")
    assert bug.returncode == 1 and "Traceback" in bug.stderr
    assert "RuntimeError: a bug keeps its traceback" in bug.stderr


def test_traceback_on_request():
    result = _run("--what=value_error", env={"FEDMULTIEMO_TRACEBACK": "1", "PATH": "/usr/bin"})
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_program_name_of_a_package_main_module_is_the_package(monkeypatch):
    from emocore.cli import program_name

    monkeypatch.setattr(sys, "argv", ["/repo/tff_train/face_main.py"])
    assert program_name() == "face_main"
    monkeypatch.setattr(sys, "argv", ["/repo/pipeline/main.py", "--workdir=x"])
    assert program_name() == "pipeline"
    monkeypatch.setattr(sys, "argv", [""])
    assert program_name() == "main"
