# Sphinx configuration of the pyg_identity API reference.
# Build: `make docs` (python -m sphinx -W --keep-going -b html docs/source
# docs/_build/html); warnings are errors.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# Document the checkout this file belongs to, whatever is installed.
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

import _api  # noqa: E402
import _layer_table  # noqa: E402
from docutils import nodes  # noqa: E402
from docutils.parsers.rst import Directive  # noqa: E402
from docutils.statemachine import StringList  # noqa: E402
from sphinx.util import logging  # noqa: E402

import pyg_identity  # noqa: E402

project = 'pyg_identity'
author = 'pyg_identity developers'
copyright = '2026, pyg_identity developers'
version = release = pyg_identity.__version__

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.mathjax',
]
# PyG's docstring style: Google-style "Args:", plus "Shapes:" sections.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = ['Shapes']
autodoc_member_order = 'bysource'
autodoc_typehints = 'none'  # the types are in the Args: sections
autodoc_default_options = {'members': True}
add_module_names = False

templates_path: list = []
exclude_patterns = ['_build']
try:
    import furo  # noqa: F401
    html_theme = 'furo'
except ImportError:  # the default theme needs nothing
    html_theme = 'alabaster'
html_title = f'pyg_identity {release}'

logger = logging.getLogger(__name__)


class LayerTable(Directive):
    r"""``.. layer-table::``: the layer x solver x default projection table,
    read from the code at build time (see ``_layer_table.py``)."""

    def run(self):
        with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
            lines = _layer_table.render(f.read())
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source='layer-table'),
                                self.content_offset, node)
        return node.children


def check_all_documented(app, env):
    documented = list(env.get_domain('py').objects)
    for name in _api.undocumented(documented):
        logger.warning(f'{name} is public (in __all__) but not in the API '
                       f'reference: add it to a page of docs/source')


def setup(app):
    app.add_directive('layer-table', LayerTable)
    app.connect('env-check-consistency', check_all_documented)
