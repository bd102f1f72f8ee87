"""One-line setup for the notebooks (:func:`notebook_setup`), sliders that fall back to one
plain call (:func:`interactive`), and :func:`save_figure`, which writes only when
``PAA_EDU_SAVE_FIGURES`` names a folder, so running a notebook never rewrites the docs."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from paa_edu.engine.rng import set_seed

SAVE_FIGURES_ENV = "PAA_EDU_SAVE_FIGURES"
STATIC_WIDGETS_ENV = "PAA_EDU_STATIC_WIDGETS"
THREADS_ENV = "PAA_EDU_NOTEBOOK_THREADS"

#: The kernel environments (set before the kernel starts) the notebooks are checked under; a
#: stored output must read the same under all three: ``reproducible`` (one code path on any
#: x86-64 CPU; the stored outputs), ``plain`` (nothing pinned, as a student's ``jupyter lab``),
#: ``perturbed`` (other kernels and reduction orders than either).
NOTEBOOK_ENVS = {
    "reproducible": {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2",
                     "OPENBLAS_CORETYPE": "Haswell", "OMP_NUM_THREADS": "1",
                     "MKL_NUM_THREADS": "1"},
    "plain": {},
    "perturbed": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "2",
                  "MKL_NUM_THREADS": "2", THREADS_ENV: "2"},
}
REPRODUCIBLE_CPU_ENV = NOTEBOOK_ENVS["reproducible"]


def notebook_setup(seed: int = 0, threads: int | None = 1, inline: bool = True) -> None:
    """Seed everything (:func:`paa_edu.set_seed`), set ``torch.set_num_threads(threads)`` (1
    also turns oneDNN off: one GEMM path for the convolutions; ``None`` keeps torch's default;
    ``PAA_EDU_NOTEBOOK_THREADS`` replaces it) and, in IPython, inline PNG figures."""
    set_seed(seed)
    if value := os.environ.get(THREADS_ENV):
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{THREADS_ENV}={value!r}: expected a whole number >= 1")
        threads = int(value)
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an int >= 1 or None, got {threads!r}")
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = threads != 1
    torch.set_printoptions(precision=3, sci_mode=False)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to set up
        return
    if inline and get_ipython() is not None:
        get_ipython().run_line_magic("matplotlib", "inline")
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("png")


def save_figure(fig, name: str) -> Path | None:
    """Save ``fig`` as ``$PAA_EDU_SAVE_FIGURES/name`` and return the path; ``None`` when unset."""
    folder = os.environ.get(SAVE_FIGURES_ENV)
    if not folder:
        return None
    path = Path(folder) / name
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{SAVE_FIGURES_ENV}={folder}: no such folder")
    fig.savefig(path, bbox_inches="tight")
    return path


def interactive(function, **controls):
    """Sliders for ``function``'s arguments (``ipywidgets.interactive``), or one plain call.
    ``controls`` are ``ipywidgets.interact`` abbreviations: ``(0.0, 1.0, 0.05)`` a float slider,
    ``(1, 100, 1)`` an int slider, ``True``/``False`` a checkbox, a list a drop-down. Returns the
    widget (displayed), or ``None`` where ipywidgets or a kernel is missing or
    ``PAA_EDU_STATIC_WIDGETS`` is set: then ``function()`` is called once, with its defaults."""
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
