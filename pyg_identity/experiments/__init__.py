"""Paper-experiment scripts, runnable as ``python -m pyg_identity.experiments.<name>`` or via ``pyg-identity train <name>``."""
