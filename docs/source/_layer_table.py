r"""The layer x solver x default projection table, read from the code.

Used twice: ``conf.py`` renders the table of ``layers.rst`` from it at build
time (the ``.. layer-table::`` directive), and ``tests/test_docs.py`` checks
the README's layer table against it, without Sphinx. What comes from the
code:

* the layers: every subclass of :class:`pyg_identity.nn.SolverLayer` in
  :obj:`pyg_identity.nn.__all__`;
* the default projection: the class attribute :obj:`default_projection`;
* the sense: the :obj:`sense=` literals of the :obj:`identity_solver` (or
  :obj:`identity_on_edges`) calls
  in the functional module(s) the layer's module imports (``"either"`` for a
  layer whose constructor takes :obj:`sense`);
* the pure solvers: the public ``solve_*`` functions of
  :mod:`pyg_identity.solvers` defined in the solver modules those
  functional modules import;
* the :obj:`solver=` options: the constructor's default and the module
  constant of choices it is validated against (``SOLVERS`` /
  ``QAP_SOLVERS``).

The README supplies the prose (problem, solver, why); the test makes the two
agree on the layers, the senses and the default projections.
"""
import ast
import importlib
import inspect
import re
from typing import Dict, List, Optional

README_HEADER = ('layer', 'problem', 'sense', 'solver', 'default projection',
                 'why')


def _module_ast(name: str) -> ast.Module:
    module = importlib.import_module(name)
    return ast.parse(inspect.getsource(module))


def _imported_modules(tree: ast.Module, prefix: str) -> List[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith(prefix):
            out.append(node.module)
    return out


def _senses(tree: ast.Module) -> List[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = getattr(func, 'id', getattr(func, 'attr', None))
            # identity_solver, or a shared tail that forwards `sense`.
            if name not in ('identity_solver', 'identity_on_edges'):
                continue
            for kw in node.keywords:
                if kw.arg == 'sense' and isinstance(kw.value, ast.Constant):
                    out.add(kw.value.value)
    return sorted(out)


def solver_layers() -> List[type]:
    r"""The solver layers of :obj:`pyg_identity.nn.__all__`, in order."""
    import pyg_identity.nn as nn
    return [getattr(nn, name) for name in nn.__all__
            if isinstance(getattr(nn, name), type)
            and issubclass(getattr(nn, name), nn.SolverLayer)
            and getattr(nn, name) is not nn.SolverLayer]


def _solver_choices(cls: type) -> Optional[str]:
    param = inspect.signature(cls.__init__).parameters.get('solver')
    if param is None or not isinstance(param.default, str):
        return None
    choices = None
    tree = _module_ast(cls.__module__)
    for mod in _imported_modules(tree, 'pyg_identity.solvers.'):
        module = importlib.import_module(mod)
        for const in ('SOLVERS', 'QAP_SOLVERS'):
            values = getattr(module, const, None)
            if isinstance(values, tuple) and param.default in values:
                choices = values
    if choices is None:
        return repr(param.default)
    return ' / '.join(repr(c) for c in choices) + \
        f' (default {param.default!r})'


def code_rows() -> Dict[str, Dict[str, object]]:
    r"""One row per solver layer, every field read from the code."""
    import pyg_identity.solvers as solvers
    rows: Dict[str, Dict[str, object]] = {}
    for cls in solver_layers():
        tree = _module_ast(cls.__module__)
        functionals = [
            m for m in _imported_modules(tree, 'pyg_identity.nn.functional.')
            if _senses(_module_ast(m))
            or m.endswith('.identity_solver')]
        if 'sense' in inspect.signature(cls.__init__).parameters:
            sense = 'either'
            pure: List[str] = []
        else:
            found = set()
            pure_set = set()
            for m in functionals:
                ftree = _module_ast(m)
                found.update(_senses(ftree))
                for smod in _imported_modules(ftree, 'pyg_identity.solvers.'):
                    for name in solvers.__all__:
                        obj = getattr(solvers, name)
                        if name.startswith('solve_') and \
                                getattr(obj, '__module__', None) == smod:
                            pure_set.add(name)
            sense = ' / '.join(sorted(found)) or '?'
            pure = sorted(pure_set)
        rows[cls.__name__] = {
            'sense': sense,
            'projection': cls.default_projection,
            'pure': pure,
            'solver_option': _solver_choices(cls),
            'functionals': functionals,
        }
    return rows


def _cells(line: str) -> List[str]:
    line = line.strip()
    if not (line.startswith('|') and line.endswith('|')):
        return []
    # split on | not inside backticks
    cells, cur, tick = [], '', False
    for ch in line[1:-1]:
        if ch == '`':
            tick = not tick
        if ch == '|' and not tick:
            cells.append(cur.strip())
            cur = ''
        else:
            cur += ch
    cells.append(cur.strip())
    return cells


def readme_rows(text: str) -> Dict[str, Dict[str, object]]:
    r"""The README's layer table, keyed by layer name. A layer named in
    backticks in another row's problem cell (``(+ `RecallLoss`)``) is
    covered by that row."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines)
              if tuple(_cells(line)) == README_HEADER]
    if not starts:
        raise ValueError('the README has no layer table with the columns '
                         + ' | '.join(README_HEADER))
    start = starts[0]
    rows: Dict[str, Dict[str, object]] = {}
    for line in lines[start + 2:]:
        cells = _cells(line)
        if len(cells) != len(README_HEADER):
            break
        layer, problem, sense, solver, proj, why = cells
        name = layer.strip('`')
        projection = None if proj.strip('`') == 'None' else \
            proj.strip('`').strip("'")
        row = {'problem': problem, 'sense': sense, 'solver': solver,
               'projection': projection, 'why': why, 'covered_by': name}
        rows[name] = row
        for other in re.findall(r'\(\+ `(\w+)`\)', problem):
            rows[other] = dict(row, covered_by=name)
    return rows


def _rst(cell: str) -> str:
    # Markdown `code` -> rst ``code``; leave the rest as it is.
    return re.sub(r'`([^`]+)`', r'``\1``', cell)


def render(readme_text: str) -> List[str]:
    r"""The reStructuredText lines of the table (a ``list-table``)."""
    code = code_rows()
    prose = readme_rows(readme_text)
    out = [
        '.. list-table::',
        '   :header-rows: 1',
        '   :widths: 14 8 22 16 16 10 24',
        '',
        '   * - layer',
        '     - sense',
        '     - solver',
        '     - ``solver=``',
        '     - pure solver',
        '     - default projection',
        '     - why',
    ]
    for name, row in code.items():
        text = prose.get(name, {})
        pure = ', '.join(f':func:`~pyg_identity.solvers.{p}`'
                         for p in row['pure']) or '(yours)'
        option = row['solver_option']
        out += [
            f'   * - :class:`~pyg_identity.nn.{name}`',
            f"     - {row['sense']}",
            f"     - {_rst(str(text.get('solver', '')))}" if text.get(
                'solver') else '     -',
            f'     - ``{option}``' if option else '     - \u2014',
            f'     - {pure}',
            f"     - ``{row['projection']!r}``",
            f"     - {_rst(str(text.get('why', '')))}" if text.get(
                'why') else '     -',
        ]
    return out
