"""A switch for the value checks that cost one host-device sync each (NaN/Inf, negative sizes).

Every public function of ``paa_edu.geometry``, the coder and the assigners validates its inputs
with a clear error. Shape and dtype checks are free; *value* checks (``bool(finite.all())``) make
the CPU wait for the GPU. A training step calls such functions dozens of times on tensors that
were already checked (the targets) or that it built itself (anchors, decoded boxes), so
:meth:`paa_edu.model.RotatedPAADetector.loss` checks the targets once per batch on the host,
before they move to the device, and runs the rest inside :func:`trusted_values`, where only the
value checks are skipped. A non-finite prediction still stops training: the loss is then
non-finite, and the training loop raises ``FloatingPointError``.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_STATE = threading.local()


def value_checks_enabled() -> bool:
    """False inside :func:`trusted_values` (on this thread), True otherwise."""
    return getattr(_STATE, "enabled", True)


@contextmanager
def trusted_values() -> Iterator[None]:
    """Skip the syncing value checks inside this block (shape and dtype checks still run)."""
    previous = value_checks_enabled()
    _STATE.enabled = False
    try:
        yield
    finally:
        _STATE.enabled = previous
