"""vswap: an executable model of Linux anonymous-memory swap.

Two swap designs sit behind one swap API (`vswap.swap`): the classic v6.14 design and the
virtual swap space of Nhat Pham's "[RFC PATCH v2 00/18] Virtual Swap Space".
"""

import logging

__version__ = "0.1.0"

# A library stays silent unless its application configures logging (vswap.log, the CLI).
logging.getLogger("vswap").addHandler(logging.NullHandler())
