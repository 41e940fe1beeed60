import os

from pyg_identity.cli import main


def test_demo_quick_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / 'demo'
    assert main(['demo', '--quick', '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'Optimality gap' in text and 'pretrained tsp20_gnn' in text
    assert (out / 'metrics.json').exists()
    assert any(f.endswith('.png') for f in os.listdir(out))
