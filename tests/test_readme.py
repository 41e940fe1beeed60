import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(__file__))
README = open(os.path.join(REPO, 'README.md')).read()
SNIPPETS = re.findall(r'```python\n(.*?)```', README, re.S)


def test_readme_has_python_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.filterwarnings('ignore::UserWarning')
def test_readme_snippets_run_in_order():
    scope = {}
    for code in SNIPPETS:
        exec(compile(code, 'README.md', 'exec'), scope)
