"""What every `*_main` entry point shares: one-line errors with exit codes and a clean Ctrl-C.

`run_main(main)` replaces `absl.app.run(main)`:
  * a flag or config error while parsing (an unknown `--config.KEY`, with its close matches; a
    value of the wrong type; a config file that cannot be loaded; a missing required flag)
    prints one line `NAME: error: ...` on stderr and exits with `EXIT_USAGE` (2);
  * a user error raised by `main` (`USER_ERRORS`: ValueError from validation and data checks,
    OSError for paths and permissions, ImportError for a missing optional package, absl's
    UsageError) prints one line `NAME: error: ...` and exits with `EXIT_USAGE`;
  * Ctrl-C (KeyboardInterrupt) prints `NAME: interrupted` and exits with `EXIT_INTERRUPTED`
    (130, the shell's 128 + SIGINT);
  * anything else is a bug: Python's traceback is kept (exit status 1).
Set the environment variable FEDMULTIEMO_TRACEBACK=1 to get the traceback of user errors too.
`NAME` is the entry point's module name (e.g. `face_main`).

`check_output_path(path, flag)` refuses an output file that cannot be created (its parent is a
file, or it is a folder) before any work is done.

The module lives in `emocore` because the core is the smallest install (absl + numpy, no
TensorFlow) and every entry point (trainers, converters, harness, Android export) can import it.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from absl import app, flags

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, ImportError, app.UsageError)
TRACEBACK_ENV = "FEDMULTIEMO_TRACEBACK"
_MAX_LISTED_KEYS = 30


def program_name() -> str:
    """The running entry point's module name (`face_main` for `python -m tff_train.face_main`;
    its package's for a `main` module: `pipeline` for `python -m pipeline.main`)."""
    if not (sys.argv and sys.argv[0]):
        return "main"
    path = Path(sys.argv[0])
    return path.parent.name if path.stem in ("main", "__main__") and path.parent.name else (
        path.stem)


def one_line(error: BaseException) -> str:
    """The message of `error` on one line (whitespace runs, newlines included, become a space)."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    text = " ".join(str(text).split())
    return text or type(error).__name__


def fail(message: str, *, name: str | None = None, code: int = EXIT_USAGE) -> NoReturn:
    """Prints `NAME: error: MESSAGE` (one line) on stderr and exits with `code`."""
    print(f"{name or program_name()}: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)


def _show_tracebacks() -> bool:
    return os.environ.get(TRACEBACK_ENV, "") not in ("", "0")


# ------------------------------------------------------------------------------ config keys


def _is_config_dict(value: object) -> bool:
    return hasattr(value, "keys") and hasattr(value, "get") and not isinstance(value, str)


def _config_flags(flag_values: flags.FlagValues) -> dict[str, Any]:
    """{name: flag} of the ml_collections config flags (`--config=...`) among `flag_values`."""
    try:  # only the trainers define config flags; the edge has no ml_collections
        from ml_collections.config_flags.config_flags import is_config_flag  # noqa: PLC0415
    except ImportError:
        return {}
    found = {name: flag_values[name] for name in flag_values}
    return {name: flag for name, flag in found.items()
            if name == flag.name and is_config_flag(flag)}


def _flag_argument(argv: Sequence[str], name: str) -> str | None:
    """The value given to `--name` in `argv` (`--name=V` or `--name V`), else None."""
    for i, arg in enumerate(argv):
        match = re.match(rf"^--?{re.escape(name)}(=(.*))?$", arg)
        if match:
            if match.group(1) is not None:
                return match.group(2)
            return argv[i + 1] if i + 1 < len(argv) else None
    return None


def unknown_config_key(config: Mapping[str, Any], path: str, *, root: str = "config"
                       ) -> str | None:
    """None when `path` (`train.rounds`) names a key of `config`, else a one-line message
    naming the unknown key, its close matches (difflib) and the keys allowed there."""
    node: Any = config
    parts = path.split(".")
    for depth, part in enumerate(parts):
        where = ".".join([root, *parts[:depth]])
        if not _is_config_dict(node):
            return (f"unknown config key {path!r}: {where} is a value "
                    f"({type(node).__name__}), not a group of keys")
        keys = sorted(str(k) for k in node)
        if part not in keys:
            close = difflib.get_close_matches(part, keys, n=3, cutoff=0.6)
            hint = ("; did you mean " + " or ".join(
                repr(".".join([*parts[:depth], c, *parts[depth + 1:]])) for c in close)
                + "?") if close else ""
            shown = ", ".join(keys[:_MAX_LISTED_KEYS]) + (
                ", ..." if len(keys) > _MAX_LISTED_KEYS else "")
            return f"unknown config key {path!r}{hint} (keys of {where}: {shown})"
        node = node[part]
    return None


def _override_paths(argv: Sequence[str], name: str) -> list[str]:
    prefix = re.compile(rf"^--?{re.escape(name)}\.([^=]+)")
    return [m.group(1) for arg in argv if (m := prefix.match(arg))]


def _first_unknown_key(config: Mapping[str, Any], name: str, argv: Sequence[str]) -> str | None:
    for path in _override_paths(argv, name):
        problem = unknown_config_key(config, path, root=name)
        if problem:
            return f"--{name}.{path}: {problem}"
    return None


def config_override_problem(argv: Sequence[str], flag_values: flags.FlagValues) -> str | None:
    """The first `--config.KEY=VALUE` override in `argv` whose KEY the config does not have
    (see `unknown_config_key`), or a config file that cannot be loaded; None otherwise."""
    for name, flag in _config_flags(flag_values).items():
        if not _override_paths(argv, name):
            continue
        source = _flag_argument(argv, name)
        try:
            config = flag.parser.parse(source) if source is not None else flag.value
            config.keys()  # an unloadable config file only fails when used
        except Exception as err:  # noqa: BLE001 (any failure of the user's config file)
            return f"--{name}: cannot load the config file {source!r}: {one_line(err)}"
        problem = _first_unknown_key(config, name, argv)
        if problem:
            return problem
    return None


def define_config_file(name: str, default: str, help_string: str) -> flags.FlagHolder:
    """`ml_collections.config_flags.DEFINE_config_file` with one-line errors (exit 2).

    When `--NAME=FILE` is not given, ml_collections loads the default file and applies the
    `--NAME.KEY=VALUE` overrides of `sys.argv` right here, at definition time (module import),
    so a bad override is reported (one line, exit 2) from here rather than from `run_main`.
    """
    from ml_collections.config_flags import config_flags  # noqa: PLC0415 (trainers only)

    try:
        return config_flags.DEFINE_config_file(name, default, help_string)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as err:
        if _show_tracebacks():
            raise
        try:
            config = config_flags.ConfigFileFlagParser(name).parse(default)
            problem = _first_unknown_key(config, name, sys.argv)
        except Exception:  # noqa: BLE001 (fall back to the original message)
            problem = None
        fail(problem or one_line(err))


def _check_config_files(flag_values: flags.FlagValues, argv: Sequence[str]) -> None:
    """ml_collections defers a config file's load error until the config is used: report it."""
    for name, flag in _config_flags(flag_values).items():
        try:
            flag.value.keys()
        except OSError as err:
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            fail(f"--{name}: cannot load the config file {_flag_argument(argv, name)!r}: "
                 f"{lines[-1] if lines else one_line(err)}")


def parse_flags(argv: Sequence[str]) -> list[str]:
    """absl's flag parsing with one-line errors (exit 2); see the module docstring."""
    flag_values = flags.FLAGS
    try:
        remaining = flag_values(list(argv))
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError) as err:
        if _show_tracebacks():
            raise
        fail(config_override_problem(argv, flag_values) or one_line(err))
    _check_config_files(flag_values, argv)
    return remaining


# ------------------------------------------------------------------------------ running


def guarded(main: Callable[[list[str]], Any], *,
            user_errors: tuple[type[BaseException], ...] = USER_ERRORS
            ) -> Callable[[list[str]], Any]:
    """`main` with user errors turned into one line + exit 2 and Ctrl-C into exit 130."""

    def run(argv: list[str]) -> Any:
        try:
            return main(argv)
        except KeyboardInterrupt:
            print(f"{program_name()}: interrupted", file=sys.stderr)
            sys.exit(EXIT_INTERRUPTED)
        except user_errors as err:
            if _show_tracebacks():
                raise
            fail(one_line(err))

    return run


def run_main(main: Callable[[list[str]], Any], *,
             user_errors: tuple[type[BaseException], ...] = USER_ERRORS) -> None:
    """`absl.app.run(main)` with one-line errors and exit codes (see the module docstring)."""
    app.run(guarded(main, user_errors=user_errors), flags_parser=parse_flags)


# ------------------------------------------------------------------------------ outputs


def check_output_path(path: str | os.PathLike[str] | None, flag: str) -> Path | None:
    """`path` as a Path when a file can be written there (missing parents are created later);
    raises ValueError naming `flag` when it is a folder or lies under an existing file."""
    if path is None or str(path) == "":
        return None
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"{flag}: expected a file path; got {str(out)!r}, which is a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{flag}: cannot write {str(out)!r}: {str(parent)!r} is a file, "
                                 "not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValueError(f"{flag}: cannot write {str(out)!r}: folder {str(parent)!r} is "
                                 "not writable")
            break
    return out
