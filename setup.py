"""Build hook only (the project is declared in pyproject.toml): a wheel carries `domains/`, `prompts/`,
`schemas/` and `catalog/` inside the package as `toolscale/_data/`, where toolscale/resources.py finds them when
the package is installed outside a checkout. An editable install reads the checkout's folders instead."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("domains", "prompts", "schemas", "catalog")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for name in DATA_FOLDERS:
            target = Path(self.build_lib) / "toolscale" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildPyWithData})
