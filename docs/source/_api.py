r"""Which public names the API reference documents.

Every name in the :obj:`__all__` of the modules below must be documented
somewhere in the reference (under any of its public names: the same object
re-exported by two modules counts once). ``conf.py`` checks what Sphinx
documented (a warning, an error under ``-W``); ``tests/test_docs.py`` checks
the ``.. auto*::`` directives of the ``.rst`` files, without Sphinx.
"""
import importlib
import os
import re
from typing import Iterable, List

MODULES = [
    'pyg_identity',
    'pyg_identity.solvers',
    'pyg_identity.nn',
    'pyg_identity.nn.functional',
    'pyg_identity.datasets',
    'pyg_identity.models',
    'pyg_identity.utils',
]

_DIRECTIVE = re.compile(
    r'^\.\. auto(?:class|function|data|exception|attribute)::\s+(\S+)\s*$',
    re.M)


def resolve(qualname: str) -> object:
    r"""The object a dotted name stands for (the longest importable module
    prefix, then attributes)."""
    parts = qualname.split('.')
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(qualname)


def documented_in_rst(source_dir: str) -> List[str]:
    r"""The names of the ``.. auto*::`` directives of every ``.rst`` file
    under :obj:`source_dir`."""
    names = []
    for root, _, files in os.walk(source_dir):
        for f in sorted(files):
            if f.endswith('.rst'):
                with open(os.path.join(root, f), encoding='utf-8') as fh:
                    names += _DIRECTIVE.findall(fh.read())
    return names


def undocumented(documented: Iterable[str]) -> List[str]:
    r"""The public names (``module.name``) of :obj:`MODULES` not in
    :obj:`documented`, compared by object identity for classes and
    functions and by name otherwise."""
    documented = set(documented)
    ids = set()
    for name in documented:
        try:
            obj = resolve(name)
        except (ImportError, AttributeError):
            continue
        if callable(obj):
            ids.add(id(obj))
    missing = []
    for mod in MODULES:
        module = importlib.import_module(mod)
        for name in module.__all__:
            obj = getattr(module, name)
            full = f'{mod}.{name}'
            if full in documented or (callable(obj) and id(obj) in ids):
                continue
            missing.append(full)
    return missing
