"""One-line setup for the notebooks, and saving figures into ``docs/figures`` only on request.

``paa_edu.notebook_setup()`` replaces the setup cell every notebook used to repeat: seed, one
torch thread (so that the stored outputs are the same on every machine), short tensor prints,
inline PNG figures. :func:`save_figure` writes a figure to the folder named by the
``PAA_EDU_SAVE_FIGURES`` environment variable and does nothing without it, so that running a
notebook (or the tests, under nbval) never rewrites the repository's documentation;
``scripts/run_notebooks.py`` sets it to ``docs/figures``. :func:`interactive` puts sliders on a
function with ``ipywidgets`` and falls back to one call with the defaults.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from paa_edu.seeding import set_seed

SAVE_FIGURES_ENV = "PAA_EDU_SAVE_FIGURES"

#: The environment the stored notebook outputs are computed in, and checked in by nbval
#: (``notebooks/conftest.py``, ``scripts/run_notebooks.py``): the same floating-point code paths
#: on any x86-64 CPU, so that a printed count or weight does not change with the machine. It is
#: read when torch loads, so it must be set before the kernel starts. ``MKL_CBWR`` is Intel MKL's
#: conditional numerical reproducibility (one code path for Intel and AMD processors);
#: ``ATEN_CPU_CAPABILITY`` pins torch's own vectorised kernels (reductions sum in the order of
#: the vector width); ``OPENBLAS_CORETYPE`` pins numpy's BLAS kernels. :func:`notebook_setup`
#: turns oneDNN off, whose convolutions pick their blocking by the CPU's caches, so that
#: convolutions run on MKL's pinned GEMM. Measured: notebook 03 prints different GMM weights and
#: positive counts with torch's AVX2 and AVX-512 kernels, and the same ones on every rerun.
REPRODUCIBLE_CPU_ENV = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2",
                        "OPENBLAS_CORETYPE": "Haswell", "OMP_NUM_THREADS": "1",
                        "MKL_NUM_THREADS": "1"}


def notebook_setup(seed: int = 0, threads: int | None = 1, inline: bool = True) -> None:
    """Seed everything, fix the thread count and set up inline figures.

    Args:
        seed: passed to :func:`paa_edu.set_seed`.
        threads: ``torch.set_num_threads(threads)``; 1 (the default) also turns oneDNN off
            (see :data:`REPRODUCIBLE_CPU_ENV`): with that environment, the stored outputs are
            reproduced bit for bit. ``None`` keeps torch's default (all cores, oneDNN, faster).
        inline: in IPython, ``%matplotlib inline`` with PNG output.
    """
    set_seed(seed)
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an int >= 1 or None, got {threads!r}")
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = threads != 1
    torch.set_printoptions(precision=3, sci_mode=False)
    if inline:
        _inline_figures()


def _inline_figures() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to set up
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.run_line_magic("matplotlib", "inline")
    from matplotlib_inline.backend_inline import set_matplotlib_formats
    set_matplotlib_formats("png")


def save_figure(fig, name: str) -> Path | None:
    """Save ``fig`` as ``$PAA_EDU_SAVE_FIGURES/name`` if that variable is set; else nothing.

    Returns:
        The path written, or ``None``.
    """
    folder = os.environ.get(SAVE_FIGURES_ENV)
    if not folder:
        return None
    path = Path(folder) / name
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{SAVE_FIGURES_ENV}={folder}: no such folder")
    fig.savefig(path, bbox_inches="tight")
    return path


def interactive(function, **controls):
    """Sliders for ``function``'s arguments (``ipywidgets.interact``), or one plain call.

    Args:
        function: called with keyword arguments; its defaults are the first view.
        controls: ``ipywidgets.interact`` abbreviations, e.g. ``(0.0, 1.0, 0.05)`` for a float
            slider, ``(1, 100, 1)`` for an int slider, a list for a drop-down.
    Returns:
        the widget, or ``None`` where ipywidgets or a kernel is missing; then ``function()`` is
        called once with its defaults, so that the notebook still shows a (static) result.
    """
    try:
        import ipywidgets
        from IPython import get_ipython
    except ImportError:
        ipywidgets = None
    if ipywidgets is None or get_ipython() is None:
        function()
        return None
    return ipywidgets.interact(function, **controls)
