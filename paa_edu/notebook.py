"""One-line setup for the notebooks, and saving figures into ``docs/figures`` only on request.

``paa_edu.notebook_setup()`` replaces the setup cell every notebook used to repeat: seed, one
torch thread, short tensor prints, inline PNG figures. :func:`save_figure` writes a figure to
the folder named by the ``PAA_EDU_SAVE_FIGURES`` environment variable and does nothing without
it, so that running a notebook (or the tests, under nbval) never rewrites the repository's
documentation; ``scripts/run_notebooks.py`` sets it to ``docs/figures``. :func:`interactive`
puts sliders on a function with ``ipywidgets`` and falls back to one call with the defaults.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from paa_edu.engine.rng import set_seed

SAVE_FIGURES_ENV = "PAA_EDU_SAVE_FIGURES"

#: Kernel environments the notebooks are checked under (``notebooks/conftest.py`` reads the name
#: from ``PAA_EDU_NOTEBOOK_ENV``; ``plain`` is the default, what ``jupyter lab`` gives a user).
#: A stored output must read the same under all three, which is what makes it true on every
#: x86-64 CPU: the printed values of a lesson are computed so that kernel rounding cannot
#: change them (float64 where a step is chaotic, rounded to the stable digits), and cells whose
#: output does vary carry the ``nbval-ignore-output`` tag and no claim in the text.
#:
#: * ``reproducible``: one code path on any x86-64 CPU (MKL's ``COMPATIBLE`` branch, torch's
#:   AVX2 kernels, numpy's OpenBLAS pinned to Haswell, one thread); ``scripts/run_notebooks.py``
#:   stores the outputs under it.
#: * ``plain``: nothing pinned: the CPU's own kernels, as on a student's machine.
#: * ``perturbed``: other reduction orders and kernels than either: torch's scalar kernels
#:   (``ATEN_CPU_CAPABILITY=default``), two threads, and with them oneDNN's convolutions
#:   (``PAA_EDU_NOTEBOOK_THREADS`` is read by :func:`notebook_setup`); MKL left to pick its path.
#:
#: Torch reads these when it loads, so they must be set before the kernel starts.
NOTEBOOK_ENVS = {
    "reproducible": {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2",
                     "OPENBLAS_CORETYPE": "Haswell", "OMP_NUM_THREADS": "1",
                     "MKL_NUM_THREADS": "1"},
    "plain": {},
    "perturbed": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "2",
                  "MKL_NUM_THREADS": "2", "PAA_EDU_NOTEBOOK_THREADS": "2"},
}
REPRODUCIBLE_CPU_ENV = NOTEBOOK_ENVS["reproducible"]
THREADS_ENV = "PAA_EDU_NOTEBOOK_THREADS"


def notebook_setup(seed: int = 0, threads: int | None = 1, inline: bool = True) -> None:
    """Seed everything, fix the thread count and set up inline figures.

    Args:
        seed: passed to :func:`paa_edu.set_seed`.
        threads: ``torch.set_num_threads(threads)``; 1 (the default) also turns oneDNN off, so
            that convolutions run on one GEMM path. ``None`` keeps torch's default (all cores,
            oneDNN, faster). The environment variable ``PAA_EDU_NOTEBOOK_THREADS``, when set,
            replaces this argument (the tests use it to run the lessons on other kernels).
        inline: in IPython, ``%matplotlib inline`` with PNG output.
    """
    set_seed(seed)
    if os.environ.get(THREADS_ENV):
        threads = _threads_from_env(os.environ[THREADS_ENV])
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an int >= 1 or None, got {threads!r}")
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = threads != 1
    torch.set_printoptions(precision=3, sci_mode=False)
    if inline:
        _inline_figures()


def _threads_from_env(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{THREADS_ENV}={value!r}: expected a whole number >= 1")
    return int(value)


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


STATIC_WIDGETS_ENV = "PAA_EDU_STATIC_WIDGETS"


def interactive(function, **controls):
    """Sliders for ``function``'s arguments (``ipywidgets.interactive``), or one plain call.

    Args:
        function: called with keyword arguments; its defaults are the first view.
        controls: ``ipywidgets.interact`` abbreviations: ``(0.0, 1.0, 0.05)`` for a float
            slider, ``(1, 100, 1)`` for an int slider, ``True``/``False`` for a checkbox, a list
            for a drop-down. Every control shows its whole name.
    Returns:
        the widget (displayed), or ``None`` where ipywidgets or a kernel is missing, or where
        ``PAA_EDU_STATIC_WIDGETS`` is set: then ``function()`` is called once with its
        defaults, so that the notebook shows a static result. ``scripts/run_notebooks.py`` sets
        it, so that a stored notebook (and GitHub) shows that figure instead of a widget that
        needs a kernel; running the cell yourself gives the sliders.
    """
    try:
        import ipywidgets
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        ipywidgets = None
    if ipywidgets is None or get_ipython() is None or os.environ.get(STATIC_WIDGETS_ENV):
        function()
        return None
    widget = ipywidgets.interactive(function, **controls)
    for control in widget.children[:-1]:  # the last child is the output area
        control.style.description_width = "initial"  # never cut a name to "gt_max_a..."
    display(widget)
    return widget
