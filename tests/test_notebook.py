"""paa_edu.notebook: the setup line and figures saved only on request."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import paa_edu  # noqa: E402
from paa_edu.notebook import SAVE_FIGURES_ENV  # noqa: E402


def test_setup_seeds_and_sets_threads():
    before = torch.get_num_threads()
    try:
        paa_edu.notebook_setup(seed=3, threads=1)
        assert torch.get_num_threads() == 1
        first = torch.rand(3)
        torch.manual_seed(3)
        assert torch.equal(first, torch.rand(3))  # the same as seeding torch by hand
        with pytest.raises(ValueError, match="threads"):
            paa_edu.notebook_setup(threads=0)
    finally:
        torch.set_num_threads(before)


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
