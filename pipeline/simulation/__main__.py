"""``python -m pipeline.simulation OUTDIR --seed N``: see :func:`main_simulate`."""

import logging
import sys

from pipeline.simulation.command import main_simulate

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main_simulate())
