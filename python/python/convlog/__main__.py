"""``python -m convlog …``: the ``convlog`` command that came with this package.

The wheel carries the native ``convlog`` binary (the same program as ``cargo
install convlog``) as a script, so pip puts it in the environment's ``bin/``
(``Scripts\\`` on Windows), on PATH when the environment is. This finds it
where pip put it, also for ``--user``, ``--prefix`` and ``--target`` installs,
and replaces this process with it, so the exit code, signals, stdin and
stdout are the binary's own.
"""

from __future__ import annotations

import os
import signal
import sys
import sysconfig

EXE = "convlog" + (sysconfig.get_config_var("EXE") or "")


def _candidates() -> list[str]:
    dirs = [sysconfig.get_path("scripts")]
    user = sysconfig.get_preferred_scheme("user")
    dirs.append(sysconfig.get_path("scripts", scheme=user))
    # `pip install --target DIR`: DIR/convlog is this package, DIR/bin the scripts.
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs.append(os.path.join(pkg_parent, "bin"))
    # `pip install --prefix P`: this package is P/lib/pythonX.Y/site-packages/convlog.
    prefix = os.path.normpath(os.path.join(pkg_parent, "..", "..", ".."))
    dirs.append(os.path.join(prefix, "Scripts" if os.name == "nt" else "bin"))
    seen: list[str] = []
    for d in dirs:
        path = os.path.join(d, EXE)
        if path not in seen:
            seen.append(path)
    return seen


def find_convlog_bin() -> str:
    """The path of the ``convlog`` binary installed with this package.

    Raises ``FileNotFoundError`` naming the places looked at when there is
    none (a build from source with ``CONVLOG_BUILD_CLI=0``, an editable
    install)."""
    candidates = _candidates()
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(
        "the convlog command is not installed with this Python package (looked for "
        + ", ".join(candidates)
        + "); install a prebuilt wheel (pip install convlog) or build it with "
        "`cargo install --path .` from a checkout"
    )


def main() -> None:
    try:
        path = find_convlog_bin()
    except FileNotFoundError as e:
        print(f"convlog: {e}", file=sys.stderr)
        sys.exit(2)
    argv = [path, *sys.argv[1:]]
    if os.name == "nt":
        # Windows has no exec that keeps the process: run it and pass its code on.
        import subprocess

        sys.exit(subprocess.call(argv))
    # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored
    # across exec: put back the dispositions the binary gets from a shell.
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when the descriptor was closed at start
            stream.flush()
    os.execv(path, argv)


if __name__ == "__main__":
    main()
