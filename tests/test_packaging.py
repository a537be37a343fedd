"""The wheel holds every subpackage and data file; bare folder imports are banned; ruff is clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("envs", "agents", "scaffolds", "replays")
DATA_SUFFIXES = {".md", ".json", ".toml", ".html", ".js", ".css", ".typed", ".zip"}


def _expected_files() -> tuple[set[str], set[str]]:
    packages, data = set(), set()
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT)
            packages.add("longplay/" + rel.as_posix() + "/__init__.py")
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in DATA_SUFFIXES and "__pycache__" not in path.parts:
                data.add("longplay/" + path.relative_to(ROOT).as_posix())
    return packages, data


def test_wheel_contains_every_subpackage_and_data_file(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("longplay-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages, data = _expected_files()
    assert packages, "no packages found"
    assert not packages - names, f"missing from the wheel: {sorted(packages - names)}"
    assert not data - names, f"data files missing from the wheel: {sorted(data - names)}"
    assert not any(n.startswith("longplay/tests") for n in names)


def test_no_conftest_at_repo_root() -> None:
    assert not (ROOT / "conftest.py").exists()


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is not installed")
def test_ruff_clean_and_bare_imports_banned(tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "bad.py"
    bad.write_text("import agents\nfrom envs import game\n")
    result = subprocess.run([ruff, "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                             "--select", "TID251", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "TID251" in result.stdout
