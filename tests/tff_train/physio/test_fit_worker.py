"""The TF-DF fit worker: jobs run in a recycled child process; failures are one clear error; TF-DF
fits there grow the same trees as in-process and the parent never imports TF-DF."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import psutil
import pytest

from tff_train.physio import fit_worker
from tff_train.physio.fit_worker import FitWorkerError, run_in_fit_worker

JOBS = "tests.tff_train.physio.fit_worker_jobs"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _fresh_worker():
    fit_worker.shutdown_fit_worker()
    yield
    fit_worker.shutdown_fit_worker()


def _pid(reply: bytes) -> int:
    return int(reply.split(b":")[0])


def test_jobs_run_in_one_child_that_is_recycled_after_n_jobs():
    first = run_in_fit_worker(f"{JOBS}:echo_pid", b"a", fits_per_worker=2)
    second = run_in_fit_worker(f"{JOBS}:echo_pid", b"b", fits_per_worker=2)
    third = run_in_fit_worker(f"{JOBS}:echo_pid", b"c", fits_per_worker=2)
    assert first.endswith(b":a") and second.endswith(b":b") and third.endswith(b":c")
    assert _pid(first) == _pid(second) != _pid(third)
    assert psutil.Process(_pid(third)).ppid() == psutil.Process().pid
    assert not psutil.pid_exists(_pid(first)) or psutil.Process(_pid(first)).status() == "zombie"
    fit_worker.shutdown_fit_worker()
    assert fit_worker.fit_worker_pid() is None and not psutil.pid_exists(_pid(third))


def test_a_job_that_raises_is_one_error_and_the_worker_lives_on():
    pid = _pid(run_in_fit_worker(f"{JOBS}:echo_pid", b""))
    with pytest.raises(FitWorkerError, match=rf"(?s){JOBS}:fail failed in the TF-DF fit worker "
                                             rf"\(pid {pid}, log .*\).*ValueError: planted"):
        run_in_fit_worker(f"{JOBS}:fail", "planted")
    assert _pid(run_in_fit_worker(f"{JOBS}:echo_pid", b"")) == pid
    with pytest.raises(FitWorkerError, match=f"{JOBS}:not_bytes must return bytes in the fit "
                                             "worker; got str"):
        run_in_fit_worker(f"{JOBS}:not_bytes")


def test_a_worker_that_dies_is_one_error_and_the_next_job_gets_a_fresh_worker():
    pid = _pid(run_in_fit_worker(f"{JOBS}:echo_pid", b""))
    with pytest.raises(FitWorkerError, match=rf"the TF-DF fit worker \(pid {pid}, log .*\) "
                                             rf"stopped while running {JOBS}:die \(exit status 3"):
        run_in_fit_worker(f"{JOBS}:die", 3)
    assert _pid(run_in_fit_worker(f"{JOBS}:echo_pid", b"")) != pid


def test_an_interrupted_job_discards_the_worker_so_no_stale_reply_is_read(monkeypatch):
    pid = _pid(run_in_fit_worker(f"{JOBS}:echo_pid", b""))

    def interrupted(stream: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_worker, "_read_frame", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_in_fit_worker(f"{JOBS}:echo_pid", b"stale")
    monkeypatch.undo()
    assert fit_worker.fit_worker_pid() is None and not psutil.pid_exists(pid)
    reply = run_in_fit_worker(f"{JOBS}:echo_pid", b"fresh")
    assert reply.endswith(b":fresh") and _pid(reply) != pid


def test_bad_arguments_name_what_was_expected():
    with pytest.raises(ValueError, match="function must be 'package.module:name'; got 'nocolon'"):
        run_in_fit_worker("nocolon")
    with pytest.raises(ValueError, match="fits_per_worker must be an int >= 1; got 0"):
        run_in_fit_worker(f"{JOBS}:echo_pid", b"", fits_per_worker=0)
    with pytest.raises(FitWorkerError, match="ModuleNotFoundError: No module named 'nosuch'"):
        run_in_fit_worker("nosuch.module:f")


_CHILD_FITS = """
    import sys
    import ml_collections
    import numpy as np
    from tff_train.physio import federated_forest as ff, models
    data = np.load(sys.argv[1])
    x, y, xv, yv = data["x"], data["y"], data["xv"], data["yv"]
    config = ff.ForestConfig(num_classes=3, num_trees_per_client=4, max_depth=4, seed=3)
    ff.grow_local_forest(x, y, config, 7, ["a", "b", "c", "d"]).save(sys.argv[2] + "_rf.npz")
    cfg = ml_collections.ConfigDict({"seed": 5, "centralised_gbt": {
        "num_trees": 5, "max_depth": 3, "min_examples": 5, "shrinkage": 0.3}})
    _, ens, _ = models.FITTERS["centralised_gbt"]([(x, y, xv, yv)], cfg, ["a", "b", "c", "d"], 3)
    ens.save(sys.argv[2] + "_gbt.npz")
    assert "tensorflow_decision_forests" not in sys.modules, "the parent imported TF-DF"
    print("NO_TFDF_IN_PARENT")
"""


def test_tfdf_fits_in_the_worker_equal_in_process_fits_and_the_parent_never_imports_tfdf(
        tmp_path):
    pytest.importorskip("tensorflow_decision_forests")
    from forests.ensemble import TreeEnsemble
    from tff_train.physio import federated_forest as ff
    from tff_train.physio import models

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    xv = rng.normal(size=(60, 4)).astype(np.float32)
    yv = (xv[:, 0] > 0).astype(np.int64) + (xv[:, 1] > 0.5)
    np.savez(tmp_path / "data.npz", x=x, y=y, xv=xv, yv=yv)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CHILD_FITS), str(tmp_path / "data.npz"),
         str(tmp_path / "w")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "NO_TFDF_IN_PARENT" in out.stdout, out.stderr[-3000:]

    config = ff.ForestConfig(num_classes=3, num_trees_per_client=4, max_depth=4, seed=3)
    in_process = {
        "rf": ff.ensemble_from_npz(ff.fit_local_forest_npz(x, y, config, 7, ["a", "b", "c", "d"])),
        "gbt": ff.ensemble_from_npz(models.fit_tfdf_npz(
            "centralised_gbt", {"num_trees": 5, "max_depth": 3, "min_examples": 5,
                                "shrinkage": 0.3, "seed": 5}, x, y, xv, yv,
            ["a", "b", "c", "d"], 3)),
    }
    for kind, want in in_process.items():
        got = TreeEnsemble.load(tmp_path / f"w_{kind}.npz")
        assert got.metadata() == want.metadata() and got.num_trees > 1
        for name, value in want.to_arrays().items():
            np.testing.assert_array_equal(got.to_arrays()[name], value, err_msg=f"{kind} {name}")
