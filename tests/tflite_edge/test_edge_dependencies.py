"""The `edge` install (`pip install .[edge]`, requirements/edge.txt) declares every third-party
module that the head-unit code imports: tflite_edge, emocore (the numpy core), emodata (the
replayed data) and
benchmarks.edge_latency with the project modules it pulls in.

Imports are read from the source (the AST, lazy imports in functions and `importlib.import_module`
calls included), so a new dependency fails here even where every package happens to be
installed, as in the training venv.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {"emocore", "forests", "tflite_edge", "emodata", "benchmarks", "tff_train",
                    "converters", "pipeline", "android_bridge", "configs", "tests"}
ROOTS = ("emocore", "tflite_edge", "emodata", "benchmarks.edge_latency")
# import name -> distribution that provides it (an import missing here fails the test: decide
# where the new dependency belongs, then add it).
DISTRIBUTIONS = {"numpy": "numpy", "tflite_runtime": "tflite-runtime", "absl": "absl-py",
                 "PIL": "pillow", "psutil": "psutil", "cv2": "opencv-python-headless"}
# Imported lazily, guarded by ImportError handling: not part of the `edge` extra.
OPTIONAL = {
    "cv2": "edge-camera",  # camera, video files, the Haar face detector
    "ai_edge_litert": None,  # alternative TFLite runtime, tried before tflite_runtime
    "ml_collections": None,  # emocore.cli: config flags exist in the trainers only
}


def _module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    if path.is_dir():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module name, imported at module level) of every import in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names = [node.args[0].value]
        elif isinstance(node, ast.Assign) and any(
                getattr(t, "id", "") == "_RUNTIME_MODULES" for t in node.targets):
            names = [elt.value for elt in node.value.elts]  # tflite_edge.interpreter's runtimes
        lazy = isinstance(node, ast.Assign)  # runtime names are imported inside a function
        found += [(n, id(node) in top_level and not lazy) for n in names]
    return found


def _edge_modules() -> dict[str, list[tuple[str, bool]]]:
    """{project module: its imports} for the roots and every project module they import."""
    pending = []
    for root in ROOTS:
        path = _module_file(root)
        assert path is not None, root
        if path.name == "__init__.py":
            pending += [".".join(p.relative_to(REPO).with_suffix("").parts)
                        for p in sorted(path.parent.rglob("*.py")) if p.name != "__init__.py"]
        pending.append(root)
    seen: dict[str, list[tuple[str, bool]]] = {}
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen[name] = _imports(path)
        pending += [n for n, _ in seen[name] if n.split(".")[0] in PROJECT_PACKAGES]
    return seen


def _third_party(modules: dict[str, list[tuple[str, bool]]]) -> dict[str, set[str]]:
    """{top-level third-party import: project modules importing it at module level, or
    "(lazy)" when only inside functions}."""
    out: dict[str, set[str]] = {}
    for module, imports in modules.items():
        for name, top_level in imports:
            top = name.split(".")[0]
            if top in PROJECT_PACKAGES or top in sys.stdlib_module_names or top == "__future__":
                continue
            out.setdefault(top, set()).add(module if top_level else "(lazy)")
    return out


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def _extras() -> dict[str, set[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {k: _names(v) for k, v in project["optional-dependencies"].items()}


def _edge_txt() -> set[str]:
    lines = (REPO / "requirements" / "edge.txt").read_text().splitlines()
    return _names([line for line in lines if line.strip() and not line.startswith("#")])


def test_the_scan_sees_the_edge_code_and_its_imports():
    modules = _edge_modules()
    assert {"tflite_edge.sources", "emodata.fer2013", "emocore.physio.cardiac",
            "benchmarks.edge_latency", "benchmarks.common"} <= set(modules)
    assert {"numpy", "PIL", "psutil", "absl", "tflite_runtime", "cv2"} <= set(
        _third_party(modules))
    assert not {m for m in modules
                if m.startswith(("tff_train", "converters", "forests", "pipeline"))}  # TF code


def test_the_install_ships_every_project_package():
    """pyproject's package list covers every top-level package (the edge needs emocore)."""
    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests"}
    assert {"emocore", "emodata", "tflite_edge"} <= packages
    assert {f"{name}*" for name in packages} == set(include)


def test_every_third_party_import_of_the_edge_code_is_declared_in_the_edge_extra():
    extras, edge_txt = _extras(), _edge_txt()
    for top, importers in sorted(_third_party(_edge_modules()).items()):
        if top in OPTIONAL:
            assert importers == {"(lazy)"}, (
                f"{top} is optional on the edge but imported at module level by {importers}")
            extra = OPTIONAL[top]
            if extra is not None:
                assert DISTRIBUTIONS[top] in extras[extra], (top, extra)
            continue
        assert top in DISTRIBUTIONS, (
            f"{top} (imported by {sorted(importers)}) is not a known edge dependency: add it "
            "to DISTRIBUTIONS and to the edge extra, or to OPTIONAL")
        distribution = DISTRIBUTIONS[top]
        assert distribution in extras["edge"], f"{distribution} missing from the edge extra"
        assert distribution in extras["edge-camera"], f"{distribution} missing from edge-camera"
        assert distribution in edge_txt, f"{distribution} missing from requirements/edge.txt"


def test_the_edge_install_has_no_tensorflow():
    extras = _extras()
    for requirements in (extras["edge"], extras["edge-camera"], _edge_txt()):
        assert not {r for r in requirements if r.startswith(("tensorflow", "keras", "tf-"))}
