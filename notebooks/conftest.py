"""nbval's kernels start in the environment the stored outputs were computed in.

``scripts/run_notebooks.py`` stores the outputs under :data:`paa_edu.notebook.REPRODUCIBLE_CPU_ENV`
(the same floating-point code paths on any x86-64 CPU); the kernels nbval starts inherit this
process's environment, so it is set here, before the first notebook is collected.
"""
import os

from paa_edu.notebook import REPRODUCIBLE_CPU_ENV

os.environ.update(REPRODUCIBLE_CPU_ENV)
