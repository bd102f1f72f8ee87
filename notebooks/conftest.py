"""nbval's kernels start in the environment the stored outputs were computed in.

``scripts/run_notebooks.py`` stores the outputs under :data:`paa_edu.notebook.REPRODUCIBLE_CPU_ENV`
(the same floating-point code paths on any x86-64 CPU). nbval starts one kernel per notebook
through ``nbval.kernel.start_new_kernel``; it is wrapped here so that the kernels, and only they,
get that environment. This pytest process keeps its own: the tests that compare a training in a
subprocess with one in this process bit for bit need both to use the same kernels.
"""
import os

import nbval.kernel

from paa_edu.notebook import REPRODUCIBLE_CPU_ENV

_start_new_kernel = nbval.kernel.start_new_kernel


def start_pinned_kernel(*args, **kwargs):
    """``nbval.kernel.start_new_kernel`` with ``REPRODUCIBLE_CPU_ENV`` in the kernel's env."""
    kwargs["env"] = {**os.environ, **kwargs.get("env", {}), **REPRODUCIBLE_CPU_ENV}
    return _start_new_kernel(*args, **kwargs)


nbval.kernel.start_new_kernel = start_pinned_kernel
