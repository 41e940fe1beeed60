"""Paper-experiment scripts, runnable as
``python -m pyg_identity.experiments.<name>`` or
``pyg-identity train <name>``."""
