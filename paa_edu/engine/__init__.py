"""The training engine (torchvision's ``engine.py``): read :mod:`~paa_edu.engine.train` first;
it uses :mod:`~paa_edu.engine.rng`, :mod:`~paa_edu.engine.checkpoint`,
:mod:`~paa_edu.engine.run_dir`, :mod:`~paa_edu.engine.log`, :mod:`~paa_edu.engine.distributed`
and :mod:`~paa_edu.engine.snapshots`; :mod:`~paa_edu.engine.inference` runs a model over a
dataset and scores it.
"""
