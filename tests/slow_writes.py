"""``python tests/slow_writes.py SECONDS ARGS...`` runs ``paa-edu ARGS...`` with every finished
temporary file held SECONDS before its rename (:func:`paa_edu.data.files.atomic_write`), so a
test can kill the process in the middle of a write."""
import os
import sys
import time

from paa_edu.cli import main
from paa_edu.data.files import TEMP_SUFFIX

_replace, _delay = os.replace, float(sys.argv[1])


def _slow_replace(src, dst, *args, **kwargs):
    if str(src).endswith(TEMP_SUFFIX):
        time.sleep(_delay)
    return _replace(src, dst, *args, **kwargs)


os.replace = _slow_replace
sys.exit(main(sys.argv[2:]))
