"""Build hook: the wheel carries the repo's configs/, launch/ and models/ as agent/_data (see agent/resources.py).

Everything else about the package is in pyproject.toml. Editable installs skip the copy and read the repo.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("configs", "launch", "models")


class BuildPyWithData(build_py):
    """build_py that also copies the data directories into the built `agent` package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib, "agent", "_data")
        shutil.rmtree(target, ignore_errors=True)  # no stale files from an earlier build
        for name in DATA_DIRS:
            shutil.copytree(name, target / name, ignore=shutil.ignore_patterns(".*", "__pycache__"))


setup(cmdclass={"build_py": BuildPyWithData})
