"""vswap: an executable model of Linux anonymous-memory swap.

Two swap designs sit behind one swap API (`vswap.swap`): the classic v6.14 design and the
virtual swap space of Nhat Pham's "[RFC PATCH v2 00/18] Virtual Swap Space".
"""

__version__ = "0.1.0"
