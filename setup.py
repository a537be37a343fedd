"""Maps the four top-level code folders onto the ``longplay`` import package.

The package list is computed, never written by hand: a static list silently drops new subpackages
(and their data files) from the wheel while the editable install keeps importing them.
"""

from setuptools import find_namespace_packages, setup

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


packages, package_dir = _packages()
setup(packages=packages, package_dir=package_dir)
