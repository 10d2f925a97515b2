"""Build hooks for the vramfit package (metadata is in pyproject.toml).

- The version is the C project's (``project(vramfit VERSION x.y.z)`` in ../CMakeLists.txt), so the
  package and the library it loads cannot drift apart unnoticed.
- libvramfit is bundled into the package as ``vramfit/libvramfit.so.0`` when one is found:
  $VRAMFIT_BUNDLE_LIBRARY, else ../build/libvramfit.so.0 (the source tree's default build). The wheel
  is then platform-specific (it carries a shared library). Without one, the package loads the
  installed library by its SONAME at run time (see vramfit/_native.py for the search order).
"""
import os
import re

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = "libvramfit.so.0"


def _version():
    with open(os.path.join(HERE, "..", "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(vramfit VERSION (\d+\.\d+\.\d+)", f.read())
    if not m:
        raise RuntimeError("vramfit: no 'project(vramfit VERSION x.y.z)' in ../CMakeLists.txt")
    return m.group(1)


def _bundled_library():
    env = os.environ.get("VRAMFIT_BUNDLE_LIBRARY")
    if env:
        if not os.path.isfile(env):
            raise RuntimeError(f"vramfit: VRAMFIT_BUNDLE_LIBRARY={env} is not a file")
        return env
    tree = os.path.join(HERE, "..", "build", SONAME)
    return tree if os.path.isfile(tree) else None


class BuildPy(build_py):
    def run(self):
        super().run()
        lib = _bundled_library()
        if lib:
            self.copy_file(lib, os.path.join(self.build_lib, "vramfit", SONAME))


class VramfitDistribution(Distribution):
    def has_ext_modules(self):
        return _bundled_library() is not None  # a bundled .so makes the wheel platform-specific


setup(version=_version(), cmdclass={"build_py": BuildPy}, distclass=VramfitDistribution)
