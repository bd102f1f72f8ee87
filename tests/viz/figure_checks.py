"""Readability checks shared by the tests of the new viz modules (candidates, windows, merge)."""
from __future__ import annotations

from matplotlib.text import Text

from paa_edu.viz.style import DPI, FONT_SIZE


def assert_readable(fig) -> None:
    """Every visible text of ``fig`` (titles, labels, ticks, legends) is >= 9 pt; dpi >= 100."""
    fig.canvas.draw()  # creates the tick labels
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_text().strip() and t.get_visible() and t.get_fontsize() < FONT_SIZE]
    assert not small, f"text under {FONT_SIZE} pt: {small[:5]}"
    assert fig.dpi >= DPI >= 100
