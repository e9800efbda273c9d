"""The trainers' entry points: config and validation errors are one line with exit status 2,
checked before any TFF worker is started or contacted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from configs import face_smoke
from tff_train.face.config import validate_worker_options

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _main(module: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    return result, time.monotonic() - started


def _error_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if ": error: " in line]


def test_validate_worker_options_refuses_secure_aggregation_on_workers():
    config = face_smoke.get_config()
    validate_worker_options(config, workers="localhost:8000")  # not secure: fine
    config.aggregation.secure = True
    validate_worker_options(config)  # in-process: fine
    with pytest.raises(ValueError, match=r"config.aggregation.secure=True runs only in-process .*"
                                         r"expected no --workers / --local_workers; got "
                                         r"--workers=localhost:8000"):
        validate_worker_options(config, workers="localhost:8000")
    with pytest.raises(ValueError, match="got --local_workers=2"):
        validate_worker_options(config, local_workers=2)


def test_face_main_unknown_config_key_is_one_line_with_close_matches(tmp_path):
    result, _ = _main("tff_train.face_main", f"--workdir={tmp_path}", "--config.train.roudns=3")
    assert result.returncode == 2, result.stderr
    assert _error_lines(result) == [
        "face_main: error: --config.train.roudns: unknown config key 'train.roudns'; did you "
        "mean 'train.rounds'? (keys of config.train: augment, batch_size, bn_calibration_examples, "
        "client_datasets, client_learning_rate, client_loop, client_momentum, client_optimizer, "
        "client_sampling, clients_per_round, "
        "dropout_fraction, eval_every, label_smoothing, local_epochs, lr_schedule, "
        "prior_correction, rounds, rounds_per_epoch, server_learning_rate, "
        "server_momentum, server_optimizer)"]
    assert not list(tmp_path.iterdir())


def test_face_main_refuses_secure_aggregation_on_workers_without_connecting(tmp_path):
    with socket.socket() as listener:  # a "worker" that records any connection attempt
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.0)
        port = listener.getsockname()[1]
        result, seconds = _main("tff_train.face_main", "--config=configs/face_smoke.py",
                                f"--workdir={tmp_path}", "--config.aggregation.secure=True",
                                f"--workers=127.0.0.1:{port}")
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    assert result.returncode == 2, result.stderr
    assert _error_lines(result) == [
        "face_main: error: config.aggregation.secure=True runs only in-process (TFF's secure-sum "
        "simulation; worker services do not implement secure sums): expected no --workers / "
        f"--local_workers; got --workers=127.0.0.1:{port}"]
    assert seconds < 60  # the refusal does not wait for a connection timeout
    assert not list(tmp_path.iterdir())


def test_physio_main_validation_error_is_one_line(tmp_path):
    result, _ = _main("tff_train.physio_main", "--config=configs/physio_smoke.py",
                      f"--workdir={tmp_path}", "--config.data.task=bogus", "--local_workers=1")
    assert result.returncode == 2, result.stderr
    lines = _error_lines(result)
    assert len(lines) == 1 and lines[0].startswith(
        "physio_main: error: config.data.task must be one of ['wesad3', "), lines
