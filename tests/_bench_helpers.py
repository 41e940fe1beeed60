r"""Imports a script of ``benchmarks/`` (not a package) as a module."""
import importlib.util
import os
from types import ModuleType

BENCHMARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                          'benchmarks')


def load_benchmark(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(BENCHMARKS, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
