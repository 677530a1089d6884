"""The virtual designs' state machines share their helpers with the other virtual-design
tests: ``vswaphelpers`` lives in ``tests/unit/swap`` (one place), put on the import path here
so this directory's tests find it when run on their own."""

import sys
from pathlib import Path

_SWAP_TESTS = str(Path(__file__).resolve().parent.parent / "swap")
if _SWAP_TESTS not in sys.path:
    sys.path.insert(0, _SWAP_TESTS)
