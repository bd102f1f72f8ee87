"""The training engine (torchvision's ``engine.py``): read :mod:`~paa_edu.engine.train` first;
:mod:`~paa_edu.engine.inference` runs a model over a dataset and scores it."""
