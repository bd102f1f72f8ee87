"""nbval's kernels start in one of the notebook environments of :mod:`paa_edu.notebook`.

``PAA_EDU_NOTEBOOK_ENV`` names it: ``plain`` (the default: the CPU's own kernels, as a student's
``jupyter lab`` runs them), ``reproducible`` (the environment ``scripts/run_notebooks.py`` stores
the outputs in) or ``perturbed`` (other kernels, two threads, oneDNN on). The stored outputs must
pass under each. nbval starts one kernel per notebook through ``nbval.kernel.start_new_kernel``;
it is wrapped here so that the kernels, and only they, get that environment. This pytest process
keeps its own: the tests that compare a training in a subprocess with one in this process bit for
bit need both to use the same kernels.
"""
import os

import nbval.kernel

from paa_edu.notebook import NOTEBOOK_ENVS

ENV_NAME = os.environ.get("PAA_EDU_NOTEBOOK_ENV", "plain")
if ENV_NAME not in NOTEBOOK_ENVS:
    raise SystemExit(f"PAA_EDU_NOTEBOOK_ENV={ENV_NAME!r}: expected one of {sorted(NOTEBOOK_ENVS)}")

_start_new_kernel = nbval.kernel.start_new_kernel


def start_kernel_in_env(*args, **kwargs):
    """``nbval.kernel.start_new_kernel`` with the chosen environment in the kernel's env."""
    kwargs["env"] = {**os.environ, **kwargs.get("env", {}), **NOTEBOOK_ENVS[ENV_NAME]}
    return _start_new_kernel(*args, **kwargs)


nbval.kernel.start_new_kernel = start_kernel_in_env
