r"""Example architectures ending in Identity layers, and the pretrained
checkpoints (:func:`load_pretrained`)."""
from pyg_identity.models.pretrained import (
    available,
    load_pretrained,
    model_card,
)

__all__ = ['load_pretrained', 'available', 'model_card']
