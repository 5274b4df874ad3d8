"""convlog's build backend: maturin, once Rust is known to be there.

Installing from source (the sdist, or ``pip install ./python``) compiles Rust.
Without a Rust toolchain maturin either downloads one (about 1 GB, silently,
into the user's cache) or fails offline with a long traceback. Whoever builds
convlog from source without Rust almost always wanted the prebuilt wheel, so
every hook first checks for ``cargo`` and otherwise stops with one sentence
that says what is missing and where the wheels are.

A wheel built here also carries the ``convlog`` command, as the prebuilt
wheels do: unless ``python/build-wheel`` staged a binary already, ``cargo
build --release`` builds it and it is placed in maturin's data directory
(``convlog._convlog.data/scripts/``), from which pip installs it on PATH.
``CONVLOG_BUILD_CLI=0`` leaves it out (a faster build for working on the
binding). Editable installs never carry it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import maturin

MISSING_RUST = (
    "convlog: building convlog from source needs Rust (cargo was not found on PATH), "
    "so install a prebuilt wheel instead (`pip install --only-binary=:all: convlog`; "
    "the wheels are at https://pypi.org/project/convlog/#files, or `python/build-wheel` "
    "builds one from a checkout), or install Rust from https://rustup.rs and retry."
)

# maturin's default data directory for module-name "convlog._convlog": what
# it holds under scripts/ lands in the environment's bin/ (Scripts\ on Windows).
DATA = Path("convlog._convlog.data")
EXE = "convlog.exe" if sys.platform == "win32" else "convlog"


def _require_rust() -> None:
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    works = False
    if cargo:
        try:
            works = subprocess.run([cargo, "--version"], capture_output=True).returncode == 0
        except OSError:
            works = False
    if not works:
        # SystemExit prints the sentence alone: pip shows it as the build's
        # output, with no traceback around it.
        raise SystemExit(MISSING_RUST)


def _build_cli() -> Path:
    """Builds the `convlog` binary (the same as `cargo install convlog`) and
    returns its path, as cargo reports it."""
    cargo = os.environ.get("CARGO") or shutil.which("cargo") or "cargo"
    cmd = [cargo, "build", "--release", "--locked", "-p", "convlog", "--bin", "convlog"]
    cmd.append("--message-format=json-render-diagnostics")
    print(f"convlog_build: {' '.join(cmd)}", file=sys.stderr, flush=True)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise SystemExit(f"convlog: `{' '.join(cmd)}` failed ({out.returncode}); see above.")
    for line in out.stdout.splitlines():
        msg = json.loads(line) if line.startswith("{") else {}
        target = msg.get("target", {})
        if msg.get("reason") == "compiler-artifact" and "bin" in target.get("kind", []):
            if target.get("name") == "convlog" and msg.get("executable"):
                return Path(msg["executable"])
    raise SystemExit("convlog: cargo built no `convlog` executable; see above.")


@contextlib.contextmanager
def _cli_staged() -> Iterator[None]:
    staged = DATA / "scripts" / EXE
    if staged.exists() or os.environ.get("CONVLOG_BUILD_CLI") == "0":
        yield
        return
    binary = _build_cli()
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, staged)
    try:
        yield
    finally:
        shutil.rmtree(DATA, ignore_errors=True)


def get_requires_for_build_wheel(config_settings=None):
    _require_rust()
    return maturin.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_editable(config_settings=None):
    _require_rust()
    return maturin.get_requires_for_build_editable(config_settings)


def get_requires_for_build_sdist(config_settings=None):
    _require_rust()
    return maturin.get_requires_for_build_sdist(config_settings)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _require_rust()
    return maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    _require_rust()
    return maturin.prepare_metadata_for_build_editable(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _require_rust()
    with _cli_staged():
        return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _require_rust()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    _require_rust()
    return maturin.build_sdist(sdist_directory, config_settings)
