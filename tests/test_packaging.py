"""The wheel holds every subpackage and data file; bare folder imports are banned; ruff is clean."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("envs", "agents", "scaffolds", "replays")


def _package_folder_files() -> set[str]:
    """Every file under the four folders that a commit would hold, as the wheel names it: git's tracked files and
    the untracked ones it does not ignore (in a checkout), else every file but caches (in an unpacked sdist).

    Never a list of suffixes: the wheel's package-data patterns are one, and a test with the same list cannot see a
    new kind of file (an icon, a font) that the patterns leave out of the wheel."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *FOLDERS],
                                cwd=ROOT, capture_output=True, check=True).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # no git, or not a checkout
        paths = [path for folder in FOLDERS for path in (ROOT / folder).rglob("*") if "__pycache__" not in path.parts]
    return {"longplay/" + path.relative_to(ROOT).as_posix() for path in paths if path.is_file()}  # not deleted ones


def _pip_wheel(source: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out)], check=True, capture_output=True)
    (wheel,) = out.glob("longplay-*.whl")
    return wheel


def test_wheel_holds_every_file_of_the_package_folders_and_nothing_else(tmp_path: Path) -> None:
    """Every module, subpackage and data file the code reads beside itself (the viewer's static files, the price
    table, the shipped policy), and no tests, caches or stale build output."""
    every = zipfile.ZipFile(_pip_wheel(ROOT, tmp_path)).namelist()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in every), "the wheel ships no licence notice"
    names = {name for name in every if ".dist-info/" not in name}
    expected = _package_folder_files()
    assert "longplay/replays/viewer/static/index.html" in expected, "found no package files"
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"
    assert not names - expected, f"in the wheel but no file of the package folders: {sorted(names - expected)}"


def test_a_module_deleted_since_the_last_in_tree_build_is_not_in_the_next_wheel(tmp_path: Path) -> None:
    """``pip wheel .`` / ``pip install .`` reuse the checkout's ``build/``: what was deleted stays out."""
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.zip")  # the shipped checkpoint is not needed here
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    stale = source / "envs" / "renamed_since.py"
    stale.write_text('"""A module a refactor removes."""\n')
    assert "longplay/envs/renamed_since.py" in zipfile.ZipFile(_pip_wheel(source, tmp_path / "first")).namelist()
    stale.unlink()
    assert "longplay/envs/renamed_since.py" not in zipfile.ZipFile(_pip_wheel(source, tmp_path / "second")).namelist()


@pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="needs build (in the test extra)")
def test_sdist_holds_the_tests_and_builds_the_same_wheel(tmp_path: Path) -> None:
    """The sdist can run its own tests (the suite, the grid files and benchmarks they read), and the wheel that
    ``pip install`` builds from it holds the same files as one built from the checkout."""
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path / "dist"),
                    str(ROOT)], check=True, capture_output=True)
    (sdist,) = (tmp_path / "dist").glob("longplay-*.tar.gz")
    with tarfile.open(sdist) as archive:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python < 3.10.12 has no filters
        archive.extractall(tmp_path / "unpacked", **safe)
    (source,) = (tmp_path / "unpacked").iterdir()
    expected = [ROOT / "tests" / "test_packaging.py", ROOT / ".ci" / "run", *(ROOT / "docs" / "grids").glob("*.toml"),
                *ROOT.glob("tests/**/*.json"), *ROOT.glob("benchmarks/*.py")]
    missing = [p.relative_to(ROOT).as_posix() for p in expected if not (source / p.relative_to(ROOT)).is_file()]
    assert not missing, f"missing from the sdist: {missing}"
    assert not list(source.rglob("__pycache__"))
    from_sdist = set(zipfile.ZipFile(_pip_wheel(source, tmp_path / "from_sdist")).namelist())
    from_checkout = set(zipfile.ZipFile(_pip_wheel(ROOT, tmp_path / "from_checkout")).namelist())
    assert from_sdist == from_checkout, sorted(from_sdist ^ from_checkout)


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


#: What only the extras install: a base install (``pip install longplay``) has none of them.
EXTRA_MODULES = ("torch", "stable_baselines3", "tensorboard", "anthropic", "openai", "imageio", "imageio_ffmpeg",
                 "matplotlib", "PIL", "starlette", "uvicorn", "pygame", "pyboy", "ray")

#: Runs ``longplay`` commands (argv lists, JSON in argv[1]) in one process where importing any extra's module
#: fails as it does in a base install; prints [exit code, stderr] per command as JSON.
_BASE_INSTALL_SCRIPT = """
import contextlib, io, json, sys
from pathlib import Path

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

BLOCKED = set(json.loads(sys.argv[2]))
sys.meta_path.insert(0, NotInstalled())
from longplay.agents.cli import main

results = []
for argv in json.loads(sys.argv[1]):
    replays = sorted(Path(sys.argv[3]).glob("*.lpr"))
    argv = [str(replays[0]) if a == "{replay}" else a for a in argv]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
        except BaseException as exc:
            rc = f"raised {type(exc).__name__}: {exc}"
    results.append([rc, err.getvalue()])
print(json.dumps(results))
"""


def test_base_install_runs_the_quickstart_and_names_the_extra_of_each_other_command(tmp_path: Path) -> None:
    """Without any extra: ``longplay run`` (oracle, offline LM) and ``verify`` work; every command that needs an
    extra fails with one line that names it, never a traceback (nor an empty replay left behind)."""
    runs = tmp_path / "runs"
    common = ["--steps", "20", "--runs-dir", str(runs), "--quiet"]
    expected: list[tuple[list[str], str | None]] = [
        (["run", *common], None),
        (["run", "--agent", "lm", *common], None),  # the offline model needs no SDK
        (["verify", "{replay}"], None),
        (["run", "--agent", "ppo", *common], "longplay[rl]"),  # the shipped policy needs torch
        (["run", "--agent", "lm", "--provider", "anthropic", "--model", "m", *common], "longplay[lm]"),
        (["run", "--agent", "lm", "--provider", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
          *common], "longplay[lm]"),
        (["run", "--set", "render_mode=human", *common], "longplay[play]"),
        (["run", "--agent", "lm", "--set", "render_mode=human", *common], "longplay[play]"),
        (["run", "--env", "TestCart-v0", *common], "longplay[gameboy]"),
        (["play"], "longplay[play]"),
        (["train", "--runs-dir", str(tmp_path / "train")], "longplay[rl]"),
        (["export", "{replay}", "--mp4", str(tmp_path / "a.mp4")], "longplay[media]"),
        (["export", "{replay}", "--gif", str(tmp_path / "a.gif")], "longplay[media]"),
        (["compare", str(runs), "--out", str(tmp_path / "compare")], "longplay[media]"),
        (["view", str(runs)], "longplay[viewer]"),
    ]
    # no API key: the missing SDK is named first (it was the key, then, once the key was set, the SDK)
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    result = subprocess.run([sys.executable, "-c", _BASE_INSTALL_SCRIPT, json.dumps([a for a, _ in expected]),
                             json.dumps(EXTRA_MODULES), str(runs)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.splitlines()[-1])
    for (argv, extra), (rc, err) in zip(expected, outcomes, strict=True):
        if extra is None:
            assert rc == 0, (argv, rc, err[-2000:])
        else:
            assert rc == 2 and extra in err and err.count("\n") == 1, (argv, rc, err[-2000:])
    assert len(list(runs.glob("*.lpr"))) == 2, "a command that failed on a missing extra left a replay"
