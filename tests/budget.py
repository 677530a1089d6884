"""Hypothesis example budgets of the tests that set their own: one for CI, one thorough.

CI (``bin/test``, profile ``ci``) must finish in about 10 minutes on 2 cores, so the heaviest
Hypothesis tests run fewer examples there than they ran before (CONTRIBUTING.md, "Test time",
has the numbers: time per test, and why each CI count still reaches the same code);
``VSWAP_HYPOTHESIS_PROFILE=thorough`` (or ``soak``) runs the larger counts, the same fixed
(derandomized) examples and more of them.
"""

from __future__ import annotations

import os

#: The Hypothesis profile tests/conftest.py loads.
PROFILE = os.environ.get("VSWAP_HYPOTHESIS_PROFILE", "ci")


def examples(ci: int, thorough: int) -> int:
    """``max_examples`` for a test: ``ci`` under the CI profile, ``thorough`` under the
    thorough and soak profiles."""
    return ci if PROFILE == "ci" else thorough
