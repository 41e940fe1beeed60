import dataclasses

import pytest
import torch

from pyg_identity import GradientSettings
from pyg_identity.nn import IdentitySolver, IdentityTSP
from pyg_identity.nn.functional import SolverDiagnostics, identity_solver


def test_defaults_and_frozen():
    s = GradientSettings()
    assert (s.projection, s.noise, s.noise_position, s.backward, s.lambda_,
            s.generator, s.diagnostics) == ('norm', 0.0, 'before',
                                             'identity', 20.0, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.noise = 1.0  # type: ignore[misc]
    assert repr(s) == 'GradientSettings()'
    assert repr(s.replace(noise=0.1)) == 'GradientSettings(noise=0.1)'


@pytest.mark.parametrize('field,value', [
    ('projection', 'max'),
    ('noise', -1),
    ('noise', float('inf')),
    ('noise', True),
    ('noise_position', 'middle'),
    ('backward', 'perturb'),
    ('lambda_', 0.0),
    ('lambda_', float('nan')),
    ('generator', 3),
    ('diagnostics', 'yes'),
])
def test_invalid_field_raises_naming_it(field, value):
    with pytest.raises(ValueError, match=f"'{field}'"):
        GradientSettings(**{field: value})
    with pytest.raises(ValueError, match=f"'{field}'"):
        GradientSettings().replace(**{field: value})


def test_replace_and_resolve():
    s = GradientSettings(projection='std', noise=0.1)
    assert s.replace(noise=0.2) == GradientSettings(projection='std',
                                                    noise=0.2)
    with pytest.raises(ValueError, match='unknown gradient setting'):
        s.replace(nosie=0.2)
    # resolve: caller defaults only when no settings object is given.
    assert GradientSettings.resolve(None, {}, projection='std').projection \
        == 'std'
    assert GradientSettings.resolve(s, {}, projection=None) is s
    assert GradientSettings.resolve(s, {'backward': 'blackbox'}).backward \
        == 'blackbox'
    with pytest.raises(ValueError, match="'settings'"):
        GradientSettings.resolve({'noise': 1.0}, {})  # type: ignore
    d = GradientSettings(diagnostics=True).diagnostics
    assert isinstance(d, SolverDiagnostics)
    assert GradientSettings(diagnostics=False).diagnostics is None


def test_layer_owns_settings_and_setters_validate():
    layer = IdentityTSP(runs=1, noise=0.1)
    assert layer.settings == GradientSettings(projection='std', noise=0.1)
    layer.noise = 0.0
    assert layer.settings.noise == 0.0
    for name, bad in (('noise', -1), ('projection', 'max'), ('lambda_', 0),
                      ('backward_mode', 'x'), ('noise_position', 'x')):
        with pytest.raises(ValueError):
            setattr(layer, name, bad)
    assert layer.settings == GradientSettings(projection='std')
    layer.settings = GradientSettings(backward='blackbox')
    assert layer.backward_mode == 'blackbox' and layer.projection == 'norm'
    with pytest.raises(ValueError, match="'settings'"):
        layer.settings = {'noise': 0.1}  # type: ignore[assignment]
    layer.diagnostics = True
    assert isinstance(layer.diagnostics, SolverDiagnostics)


def test_every_settings_field_is_a_validated_layer_attribute():
    layer = IdentityTSP(runs=1, backward='imle')
    fields = {f.name for f in dataclasses.fields(GradientSettings)}
    names = {'backward_mode' if f == 'backward' else f for f in fields}
    for name in names:  # each field reads through to the settings
        field = 'backward' if name == 'backward_mode' else name
        assert getattr(layer, name) is getattr(layer.settings, field)
    layer.sigma, layer.num_samples, layer.imle_k = 0.5, 3, 2
    layer.imle_noise = 'sum_of_gamma'
    assert layer.settings == GradientSettings(
        projection='std', backward='imle', sigma=0.5, num_samples=3,
        imle_k=2, imle_noise='sum_of_gamma')
    assert 'sigma=0.5, num_samples=3' in repr(layer)
    for name, bad in (('sigma', 0.0), ('num_samples', 0),
                      ('imle_noise', 'x'), ('imle_k', 0)):
        with pytest.raises(ValueError, match=f"'{name}'"):
            setattr(layer, name, bad)
    assert layer.settings.sigma == 0.5


def test_generic_entry_points_share_the_default_projection():
    from pyg_identity import project
    from pyg_identity.nn import CostProjection
    c = torch.tensor([3.0, 4.0])
    assert torch.allclose(project(c), c / 5)
    assert torch.allclose(CostProjection()(c), c / 5)
    seen = []

    def solver(w):
        seen.append(w)
        return torch.zeros_like(w)

    identity_solver(c, solver)
    IdentitySolver(solver)(c)
    assert all(torch.allclose(w, c / 5) for w in seen) and len(seen) == 2


def test_layer_generator_makes_the_margin_reproducible():
    seen = []

    def solver(w):
        seen.append(w.clone())
        return (w == w.min()).to(w.dtype)

    c = torch.zeros(6)
    for _ in range(2):
        layer = IdentitySolver(solver, projection=None, noise=1.0,
                               generator=torch.Generator().manual_seed(0))
        layer.train()
        layer(c)
    assert torch.equal(seen[0], seen[1]) and seen[0].abs().max() > 0
