"""``python -m paa_edu ...`` is ``paa-edu ...``; it is also what torchrun starts once per GPU::

    torchrun --nproc_per_node 4 -m paa_edu train --config r50_dota_1x --set data.root=...
"""
import sys

from paa_edu.cli import main

if __name__ == "__main__":
    sys.exit(main())
