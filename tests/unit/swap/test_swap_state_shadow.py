"""Shadow entries (``pack_shadow``/``unpack_shadow``, mm/workingset.c): the packed value keeps
the memcg id, the eviction age and the workingset bit apart. Added for a mutant that
survived the swap tests (bin/mutate: ``<<`` turned into ``>>`` in ``pack_shadow``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vswap.swap.swap_state import pack_shadow, unpack_shadow


@given(memcg_id=st.integers(0, (1 << 16) - 1), eviction=st.integers(0, 1 << 40),
       workingset=st.booleans())
def test_shadow_round_trip(memcg_id: int, eviction: int, workingset: bool) -> None:
    assert unpack_shadow(pack_shadow(memcg_id, eviction, workingset)) == (
        memcg_id, eviction, workingset)


def test_shadow_layout() -> None:
    # eviction above the 16 memcg bits and the workingset bit, as the kernel packs it
    assert pack_shadow(3, 5, True) == (5 << 17) | (3 << 1) | 1
