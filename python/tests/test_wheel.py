"""The package as users get it: the installed wheel, its ``convlog`` command and its tags.

These run when ``CONVLOG_TEST_WHEEL`` names the wheel this interpreter has
installed (``.ci/run`` sets it, after ``pip install --only-binary=:all:
--no-index --find-links python/dist convlog`` into a venv without Rust) and
skip otherwise. The CLI cases compare the wheel's ``convlog`` and ``python -m
convlog`` with the cargo-built binary (``CONVLOG_BIN``): exit code, stdout
and stderr must be the same.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import convlog
from convlog.__main__ import find_convlog_bin

ROOT = Path(__file__).resolve().parents[2]
WHEEL = os.environ.get("CONVLOG_TEST_WHEEL")

pytestmark = pytest.mark.skipif(
    not WHEEL, reason="CONVLOG_TEST_WHEEL is not set (the wheel this Python has installed)"
)


def test_imports_the_installed_wheel_not_the_source_tree() -> None:
    package = Path(convlog.__file__).resolve().parent
    site = {Path(sysconfig.get_path(k)).resolve() for k in ("purelib", "platlib")}
    assert package.parent in site, f"convlog imported from {package}, not from {site}"
    source = ROOT / "python" / "python" / "convlog"
    assert package != source.resolve(), f"convlog imported from the source tree: {package}"
    dist = importlib.metadata.distribution("convlog")
    direct = dist.read_text("direct_url.json")
    assert direct is None or '"editable": true' not in direct.replace(" ", ""), direct
    wheel_files = set(zipfile.ZipFile(WHEEL).namelist())
    installed = {str(f) for f in dist.files or []}
    for name in ("convlog/__init__.py", "convlog/__main__.py", "convlog/livekit.py"):
        assert name in wheel_files and name in installed


def test_one_version_everywhere() -> None:
    version = importlib.metadata.version("convlog")
    assert convlog.__version__ == version
    name, wheel_version, python_tag, abi, platforms = Path(WHEEL).name[: -len(".whl")].split("-")
    assert (name, wheel_version, python_tag, abi) == ("convlog", version, "cp310", "abi3")
    assert "manylinux_2_17_x86_64" in platforms.split(".")
    out = subprocess.run([find_convlog_bin(), "--version"], capture_output=True, text=True)
    assert (out.returncode, out.stdout, out.stderr) == (0, f"convlog {version}\n", "")


def test_the_command_is_in_the_environments_scripts_directory() -> None:
    path = find_convlog_bin()
    assert Path(path).parent == Path(sysconfig.get_path("scripts"))
    # The native binary itself, not a Python launcher in front of it.
    with open(path, "rb") as f:
        assert f.read(4) == b"\x7fELF"


@pytest.fixture(scope="module")
def long_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log whose export is far larger than a pipe's buffer."""
    d = tmp_path_factory.mktemp("wheel") / "conversations"
    with convlog.Session.create(d, echo=False, export_on_end=False) as log:
        for i in range(3000):
            log.log("user" if i % 2 else "agent", f"message {i} " + "x" * 80, source="stt")
    return log.path


def cases(tmp: Path, log: Path) -> dict[str, list[str]]:
    damaged = tmp / "damaged.jsonl"
    data = log.read_bytes().split(b"\n")
    data[5] = data[5].replace(b"message", b"massage")  # the CRC no longer matches
    damaged.write_bytes(b"\n".join(data))
    damaged.chmod(0o600)
    return {
        "version": ["--version"],
        "bad subcommand": ["frobnicate"],
        "bad option": ["verify", "--no-such-option", str(log)],
        "missing file": ["verify", str(tmp / "missing.jsonl")],
        "export of a missing file": ["export", str(tmp / "missing.jsonl"), "-o", "-"],
        "not a log": ["verify", str(ROOT / "python" / "pyproject.toml")],
        "damaged log": ["verify", "--json", str(damaged)],
        "good log": ["verify", "--json", str(log)],
        "export to stdout": ["export", str(log), "-o", "-", "--format", "text"],
    }


def commands() -> dict[str, list[str]]:
    cargo = os.environ.get("CONVLOG_BIN")
    if not cargo:
        pytest.fail("CONVLOG_BIN (the cargo-built convlog) is not set")
    return {
        "cargo": [cargo],
        "wheel": [find_convlog_bin()],
        "python -m": [sys.executable, "-m", "convlog"],
    }


def run(cmd: list[str], **kw) -> tuple[int, str, str]:
    done = subprocess.run(cmd, capture_output=True, timeout=60, **kw)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def test_cli_cases_match_the_cargo_binary(tmp_path: Path, long_log: Path) -> None:
    via = commands()
    for what, args in cases(tmp_path, long_log).items():
        results = {name: run([*cmd, *args]) for name, cmd in via.items()}
        assert results["wheel"] == results["cargo"], what
        assert results["python -m"] == results["cargo"], what
    # The cases are the ones meant: a usage error, a missing file, a damaged log.
    code, _, err = run([*via["wheel"], "frobnicate"])
    assert code == 2 and "frobnicate" in err
    code, _, err = run([*via["wheel"], "verify", str(tmp_path / "missing.jsonl")])
    assert code == 2 and "missing.jsonl" in err
    code, out, _ = run([*via["wheel"], "verify", "--json", str(tmp_path / "damaged.jsonl")])
    assert code == 1 and json.loads(out)["state"] == "damaged"


def closed_pipe(cmd: list[str]) -> tuple[int, str]:
    """Runs ``cmd`` with stdout a pipe whose reader has gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write)
    return done.returncode, done.stderr.decode()


def closed_fd(cmd: list[str]) -> tuple[int, str]:
    """Runs ``cmd`` with file descriptor 1 closed."""
    done = subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
        # The fd is closed in the child, between fork and exec.
        preexec_fn=lambda: os.close(1),
    )
    return done.returncode, done.stderr.decode()


@pytest.mark.parametrize("closed", [closed_pipe, closed_fd], ids=["broken pipe", "closed fd 1"])
def test_closed_stdout_matches_the_cargo_binary(closed, long_log: Path) -> None:
    args = ["export", str(long_log), "-o", "-", "--format", "text"]
    via = commands()
    results = {name: closed([*cmd, *args]) for name, cmd in via.items()}
    assert results["wheel"] == results["cargo"]
    assert results["python -m"] == results["cargo"]


def pip_dry_run(python_version: str, platform: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--no-index", "--only-binary=:all:", "--no-cache-dir", "--disable-pip-version-check",
            "--python-version", python_version, "--platform", platform, WHEEL,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("python_version", "platform", "ok"),
    [
        ("3.10", "manylinux_2_17_x86_64", True),
        ("3.13", "manylinux2014_x86_64", True),
        ("3.9", "manylinux_2_17_x86_64", False),
        ("3.12", "manylinux_2_5_x86_64", False),
        ("3.12", "manylinux_2_17_aarch64", False),
        ("3.12", "musllinux_1_2_x86_64", False),
        ("3.12", "macosx_11_0_arm64", False),
        ("3.12", "win_amd64", False),
    ],
)
def test_pip_takes_the_wheel_only_where_it_runs(python_version, platform, ok) -> None:
    done = pip_dry_run(python_version, platform)
    if ok:
        assert done.returncode == 0, done.stderr
        assert "Would install convlog" in done.stdout
    else:
        assert done.returncode != 0, done.stdout
        assert "is not a supported wheel on this platform" in done.stderr, done.stderr
