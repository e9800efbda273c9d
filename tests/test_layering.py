"""The package layering of the README's layout table: no package imports one above it (also
inside tff_train: runtime, aggregators, learning, face / physio, entry points).

Imports are read from the source with `ast` (imports inside functions included), so a lazy
import that climbs a layer fails here as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# package -> the project packages it may import (besides itself). Keep in step with the README.
ALLOWED: dict[str, frozenset[str]] = {
    "configs": frozenset(),
    "emocore": frozenset(),
    "emodata": frozenset({"emocore"}),
    "forests": frozenset({"emocore"}),
    "tflite_edge": frozenset({"emocore", "emodata"}),
    "tff_train": frozenset({"emocore", "emodata", "forests"}),
    "converters": frozenset({"emocore", "emodata", "forests", "tflite_edge"}),
    "android_bridge": frozenset({"emocore", "emodata", "tflite_edge", "converters"}),
    "pipeline": frozenset({"configs", "emocore", "emodata", "forests", "tflite_edge", "tff_train",
                           "converters"}),
    "benchmarks": frozenset({"configs", "emocore", "emodata", "forests", "tflite_edge",
                             "tff_train", "converters"}),
}


def _project_imports(path: Path) -> set[str]:
    """Top-level project packages imported anywhere in `path`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


def test_every_package_has_a_layer():
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ALLOWED)


def test_no_package_imports_one_above_it():
    violations = []
    for package, allowed in ALLOWED.items():
        for path in sorted((REPO / package).rglob("*.py")):
            for imported in sorted(_project_imports(path) - allowed - {package}):
                violations.append(f"{path.relative_to(REPO)} imports {imported}")
    assert not violations, "\n".join(violations)


def test_the_layers_form_no_cycle():
    done: set[str] = set()

    def visit(package: str, trail: tuple[str, ...]) -> None:
        assert package not in trail, " -> ".join(trail + (package,))
        if package not in done:
            for below in ALLOWED[package]:
                visit(below, trail + (package,))
            done.add(package)

    for package in ALLOWED:
        visit(package, ())


def test_the_scan_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tff_train import x\n    import converters.bundle\n")
    assert _project_imports(module) == {"tff_train", "converters"}


# Inside tff_train (README "Layout"): subpackage or top-level module -> what it may import.
_TFF_BASE = frozenset({"config_checks", "runtime"})
TFF_TRAIN_ALLOWED: dict[str, frozenset[str]] = {
    "config_checks": frozenset(),
    "fusion_weights": frozenset(),
    "runtime": frozenset(),
    "aggregators": _TFF_BASE,
    "learning": _TFF_BASE | {"aggregators"},
    "face": _TFF_BASE | {"aggregators", "learning"},
    "physio": _TFF_BASE | {"aggregators", "learning"},
    "face_main": _TFF_BASE | {"aggregators", "learning", "face"},
    "physio_main": _TFF_BASE | {"aggregators", "learning", "physio"},
}


def _tff_train_imports(path: Path) -> set[str]:
    """The tff_train subpackages and top-level modules imported anywhere in `path`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "tff_train" else [
                f"tff_train.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("tff_train.")}
    return found


def _tff_train_part(path: Path) -> str:
    parts = path.relative_to(REPO / "tff_train").parts
    return parts[0] if len(parts) > 1 else path.stem


def test_every_part_of_tff_train_has_a_layer():
    parts = {_tff_train_part(p) for p in (REPO / "tff_train").rglob("*.py")} - {"__init__"}
    assert parts == set(TFF_TRAIN_ALLOWED)


def test_no_part_of_tff_train_imports_one_above_it():
    violations = []
    for path in sorted((REPO / "tff_train").rglob("*.py")):
        part = _tff_train_part(path)
        if part == "__init__":
            continue
        for imported in sorted(_tff_train_imports(path) - TFF_TRAIN_ALLOWED[part] - {part}):
            violations.append(f"{path.relative_to(REPO)} imports tff_train.{imported}")
    assert not violations, "\n".join(violations)


def test_the_tff_train_scan_sees_every_import_form(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from tff_train import face_main\nimport tff_train.runtime.tff_runtime\n"
                      "def f():\n    from tff_train.face.model import build_face_cnn\n")
    assert _tff_train_imports(module) == {"face_main", "runtime", "face"}
