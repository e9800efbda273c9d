"""Export a model bundle as Android assets (with golden vectors for the Java bridge).

    python -m android_bridge.export_main --bundle=DIR --out=app/src/main/assets \
        [--nogolden] [--overwrite]

Writes `<out>/fedmultiemo/` (see android_bridge.assets) and prints a JSON summary.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import json
from collections.abc import Sequence

from absl import app, flags

from android_bridge.assets import ASSET_DIR, export_assets
from emocore.cli import run_main

_BUNDLE = flags.DEFINE_string("bundle", None, "Model bundle directory (converters.bundle).")
_OUT = flags.DEFINE_string("out", None, "Android assets directory; files go to <out>/fedmultiemo.")
_GOLDEN = flags.DEFINE_bool("golden", True, "Also write golden.json for the Java tests.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the golden inputs.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing <out>/fedmultiemo.")


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {list(argv[1:])}")
    manifest = export_assets(_BUNDLE.value, _OUT.value, golden=_GOLDEN.value, seed=_SEED.value,
                             overwrite=_OVERWRITE.value)
    files = manifest["files"]
    print(json.dumps({
        "assets": f"{_OUT.value}/{ASSET_DIR}",
        "files": {name: entry["size_bytes"] for name, entry in files.items()},
        "total_bytes": sum(entry["size_bytes"] for entry in files.values()),
    }, indent=2))


if __name__ == "__main__":
    flags.mark_flags_as_required(["bundle", "out"])
    run_main(main)
