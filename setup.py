"""Maps the four top-level code folders onto the ``longplay`` import package.

The package list is computed, never written by hand: a static list silently drops new subpackages
(and their data files) from the wheel while the editable install keeps importing them.
"""

import shutil
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

FOLDERS = ("envs", "agents", "scaffolds", "replays")


def _packages() -> tuple[list[str], dict[str, str]]:
    # ``longplay`` itself is a namespace package (PEP 420): the repository's top level stays the four folders.
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for folder in FOLDERS:
        package_dir[f"longplay.{folder}"] = folder
        packages.append(f"longplay.{folder}")
        for sub in find_namespace_packages(where=folder, exclude=["*__pycache__*"]):
            packages.append(f"longplay.{folder}.{sub}")
            package_dir[f"longplay.{folder}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return packages, package_dir


class CleanBuildPy(build_py):
    """Copies the package into a fresh ``build/lib/longplay``: an in-tree build (``pip install .``, ``pip wheel .``,
    the packaging test) reuses ``build/``, and a module deleted or renamed since the last build would otherwise
    stay in the wheel."""

    def run(self) -> None:
        shutil.rmtree(Path(self.build_lib) / "longplay", ignore_errors=True)
        super().run()


packages, package_dir = _packages()
setup(packages=packages, package_dir=package_dir, cmdclass={"build_py": CleanBuildPy})
