"""paa_edu.notebook: the setup line and figures saved only on request."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import paa_edu  # noqa: E402
from paa_edu.notebook import SAVE_FIGURES_ENV  # noqa: E402


@pytest.fixture(autouse=True)
def restore_torch_settings():
    """notebook_setup changes process-wide settings; later tests in this worker (training runs
    compared bit for bit with subprocesses) need torch's own."""
    before = (torch.get_num_threads(), torch.backends.mkldnn.enabled)
    yield
    torch.set_num_threads(before[0])
    torch.backends.mkldnn.enabled = before[1]


def test_setup_seeds_and_sets_threads():
    paa_edu.notebook_setup(seed=3, threads=1)
    assert torch.get_num_threads() == 1
    first = torch.rand(3)
    torch.manual_seed(3)
    assert torch.equal(first, torch.rand(3))  # the same as seeding torch by hand
    with pytest.raises(ValueError, match="threads"):
        paa_edu.notebook_setup(threads=0)


def test_save_figure_only_when_asked(tmp_path, monkeypatch):
    fig = plt.figure()
    monkeypatch.delenv(SAVE_FIGURES_ENV, raising=False)
    assert paa_edu.save_figure(fig, "a.png") is None
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(SAVE_FIGURES_ENV, str(tmp_path))
    assert paa_edu.save_figure(fig, "a.png") == tmp_path / "a.png"
    assert (tmp_path / "a.png").stat().st_size > 0
    monkeypatch.setenv(SAVE_FIGURES_ENV, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=SAVE_FIGURES_ENV):
        paa_edu.save_figure(fig, "a.png")
    plt.close(fig)


def test_interactive_without_a_kernel_calls_the_function_once_with_its_defaults():
    calls = []

    def show(k=3, scale=0.5):
        calls.append((k, scale))

    assert paa_edu.interactive(show, k=(1, 10, 1), scale=(0.0, 1.0, 0.1)) is None  # no kernel
    assert calls == [(3, 0.5)]


def test_reproducible_environment_pins_the_kernels_torch_uses(tmp_path):
    import os
    import subprocess
    import sys

    from paa_edu.notebook import REPRODUCIBLE_CPU_ENV

    probe = ("import torch; print(torch.backends.cpu.get_cpu_capability(), "
             "torch.get_num_threads())")
    env = {**os.environ, **REPRODUCIBLE_CPU_ENV}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    if out[0] not in ("AVX2", "AVX512"):  # a CPU without AVX2 runs torch's default kernels
        assert out[0] == "DEFAULT"
    else:
        assert out[0] == "AVX2"  # not AVX-512, even where the CPU has it
    assert out[1] == "1"


@pytest.mark.parametrize("name", ["plain", "reproducible", "perturbed"])
def test_notebooks_conftest_gives_the_chosen_environment_to_nbval_kernels_only(monkeypatch,
                                                                              name):
    import os

    import nbval.kernel

    from paa_edu.notebook import NOTEBOOK_ENVS
    from tests.script_loader import load_script

    calls = []
    monkeypatch.setattr(nbval.kernel, "start_new_kernel", lambda *a, **kw: calls.append(kw))
    monkeypatch.setenv("PAA_EDU_NOTEBOOK_ENV", name)
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    before = dict(os.environ)
    conftest = load_script("notebooks/conftest.py")
    assert nbval.kernel.start_new_kernel is conftest.start_kernel_in_env
    nbval.kernel.start_new_kernel(kernel_name="python3", cwd="notebooks")
    assert calls[0]["cwd"] == "notebooks"
    assert all(calls[0]["env"][k] == v for k, v in NOTEBOOK_ENVS[name].items())
    assert ("ATEN_CPU_CAPABILITY" in calls[0]["env"]) == (name != "plain")
    assert calls[0]["env"]["PATH"] == os.environ["PATH"]  # the rest of the environment kept
    assert dict(os.environ) == before  # this process keeps its own


def test_notebooks_conftest_refuses_an_unknown_environment(monkeypatch):
    from tests.script_loader import load_script

    monkeypatch.setenv("PAA_EDU_NOTEBOOK_ENV", "fast")
    with pytest.raises(SystemExit, match="PAA_EDU_NOTEBOOK_ENV='fast'"):
        load_script("notebooks/conftest.py")


def test_thread_count_from_the_environment_replaces_the_argument(monkeypatch):
    monkeypatch.setenv("PAA_EDU_NOTEBOOK_THREADS", "2")
    paa_edu.notebook_setup(threads=1, inline=False)
    assert torch.get_num_threads() == 2 and torch.backends.mkldnn.enabled is True
    monkeypatch.setenv("PAA_EDU_NOTEBOOK_THREADS", "two")
    with pytest.raises(ValueError, match="PAA_EDU_NOTEBOOK_THREADS='two'"):
        paa_edu.notebook_setup(inline=False)


def test_setup_with_one_thread_turns_onednn_off():
    paa_edu.notebook_setup(threads=1, inline=False)
    assert torch.backends.mkldnn.enabled is False
    paa_edu.notebook_setup(threads=2, inline=False)
    assert torch.backends.mkldnn.enabled is True


def test_interactive_stores_a_static_view_when_asked_and_shows_whole_names(monkeypatch):
    import IPython

    calls = []

    def knobs(threshold=0.5, ties=True):
        calls.append((threshold, ties))

    monkeypatch.setattr(IPython, "get_ipython", lambda: object())  # as inside a kernel
    monkeypatch.setattr("IPython.display.display", lambda *a: None)
    monkeypatch.setenv("PAA_EDU_STATIC_WIDGETS", "1")
    assert paa_edu.interactive(knobs, threshold=(0.1, 0.9, 0.1), ties=True) is None
    assert calls == [(0.5, True)]  # the static figure of the defaults
    monkeypatch.delenv("PAA_EDU_STATIC_WIDGETS")
    widget = paa_edu.interactive(knobs, threshold=(0.1, 0.9, 0.1), ties=True)
    slider, checkbox = widget.children[:2]
    assert type(checkbox).__name__ == "Checkbox" and checkbox.description == "ties"
    assert slider.style.description_width == checkbox.style.description_width == "initial"
