"""The head-unit runtime, the numpy core and the data layer it replays run without TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_BLOCK_AND_IMPORT_ALL = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    class BlockTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"tensorflow", "tensorflow_federated",
                                      "tensorflow_decision_forests", "keras"}:
                raise ImportError(f"{name} is blocked: the edge runtime must not import it")
            return None

    sys.meta_path.insert(0, BlockTensorFlow())
    imported = []
    for package_name in sys.argv[1:]:
        package = importlib.import_module(package_name)
        imported.append(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)
            imported.append(info.name)
    assert "tensorflow" not in sys.modules
    print("\\n".join(imported))
    """
)


def _import_all(*packages: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _BLOCK_AND_IMPORT_ALL, *packages],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_every_edge_core_and_data_module_imports_with_tensorflow_blocked():
    imported = _import_all("emocore", "emodata", "tflite_edge")
    assert {"tflite_edge", "emodata.drivedb", "emocore.label_spaces", "emocore.physio.cardiac",
            "emocore.fusion.engine", "emocore.calibration"} <= set(imported)


def test_the_block_really_blocks_tensorflow():
    result = subprocess.run([sys.executable, "-c", _BLOCK_AND_IMPORT_ALL,
                             "tensorflow"], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "tensorflow is blocked" in result.stderr
