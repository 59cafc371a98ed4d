"""Build hook: `pip install .` compiles the native core with the Makefile.

The C libraries (the heap, the replay engine, the built-in policies) and the
public headers land in mallocsim/_native/, so an installed mallocsim works
outside the checkout. Everything else about the package is in pyproject.toml.
"""

import os
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithNative(build_py):
    """Run `make native` into the package being built (or the source tree when editable)."""

    def run(self) -> None:
        if getattr(self, "editable_mode", False):
            native_dir = ROOT / "driver" / "mallocsim" / "_native"
        else:
            native_dir = Path(self.build_lib).resolve() / "mallocsim" / "_native"
        subprocess.run(
            ["make", "-C", str(ROOT), "native", f"NATIVE_DIR={native_dir}"],
            check=True,
            env={**os.environ, "MAKEFLAGS": ""},
        )
        super().run()


setup(cmdclass={"build_py": BuildWithNative})
