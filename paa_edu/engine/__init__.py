"""The training engine: the loop and what keeps a run safe (torchvision's ``engine.py``).

Read :mod:`~paa_edu.engine.train` top to bottom first; it uses :mod:`~paa_edu.engine.rng`
(seeds and generator states), :mod:`~paa_edu.engine.checkpoint` (atomic save, safe load,
resume checks), :mod:`~paa_edu.engine.run_dir` (the out-dir lock, Ctrl-C),
:mod:`~paa_edu.engine.log` (``log.csv``), :mod:`~paa_edu.engine.distributed` (torchrun) and
:mod:`~paa_edu.engine.snapshots` (PAA's split of fixed GTs during training).
:mod:`~paa_edu.engine.inference` runs a model over a dataset and scores it.
"""
