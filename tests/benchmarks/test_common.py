"""Benchmark provenance names the commit and whether the tree differed from it."""

from __future__ import annotations

import subprocess

from benchmarks.common import provenance


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True)


def test_provenance_reports_a_dirty_tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git("add", "a.txt")
    _git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    clean = provenance()
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False
    (tmp_path / "untracked.txt").write_text("not part of the tree\n")
    assert provenance()["git_dirty"] is False
    (tmp_path / "a.txt").write_text("two\n")
    assert provenance()["git_dirty"] is True


def test_provenance_outside_git_has_no_commit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    got = provenance()
    assert got["git_commit"] is None and got["git_dirty"] is None
