"""Swap entry and slot types, and the layout constants of x86-64 with 4 KiB pages.

Models: ``swp_entry_t`` and ``swp_slot_t`` (include/linux/mm_types.h, seed patch 05),
``swp_entry()``/``swp_type()``/``swp_offset()`` and ``swp_slot()``/``swp_slot_type()``/
``swp_slot_offset()`` (include/linux/swapops.h), and the constants of include/linux/swap.h,
mm/swap.h and mm/swapfile.c at v6.14.

* ``SwpEntry`` is what a page-table entry (or a shmem mapping) holds: the *logical* handle,
  the key of the swap cache, the zswap tree and the memcg record.
* ``SwpSlot`` is a *physical* slot: a device type and an offset on that device.

In the classic design the two are equal (``swp_entry_to_swp_slot`` is the identity); under the
virtual swap space an entry is a virtual id and the slot is found through its descriptor.
They are ``NewType``s over ``int``: free at run time (a swap entry must cost nothing beyond its
table bytes), distinct for the type checker, exactly as the two ``typedef struct``s are for the
compiler. Value 0 means "no entry" / "no slot" for both.
"""

from __future__ import annotations

from typing import Final, NewType

from vswap.kernel.errors import Errno, KernelError

PAGE_SHIFT: Final = 12
PAGE_SIZE: Final = 1 << PAGE_SHIFT

#: PMD order on x86-64 with 4 KiB pages: a 2 MiB THP is 512 pages.
HPAGE_PMD_ORDER: Final = 9
HPAGE_PMD_NR: Final = 1 << HPAGE_PMD_ORDER
#: Folio orders 0..9 are swappable (mTHP up to PMD size); SWAP_NR_ORDERS in mm/swap.h.
SWAP_NR_ORDERS: Final = HPAGE_PMD_ORDER + 1
#: Slots per swap cluster, ``SWAPFILE_CLUSTER`` (= HPAGE_PMD_NR with CONFIG_THP_SWAP).
SWAPFILE_CLUSTER: Final = HPAGE_PMD_NR

#: ``MAX_SWAPFILES_SHIFT``: 5 bits of type in an entry.
MAX_SWAPFILES_SHIFT: Final = 5
#: Swap types taken by non-swap entries on a v6.14 x86-64 config with all of them enabled:
#: SWP_DEVICE_NUM (3: device-private write/read, device-exclusive), SWP_MIGRATION_NUM (3),
#: SWP_HWPOISON_NUM (1), SWP_PTE_MARKER_NUM (1). MAX_SWAPFILES = 32 - 8 = 24.
SWP_RESERVED_TYPES: Final = 3 + 3 + 1 + 1
MAX_SWAPFILES: Final = (1 << MAX_SWAPFILES_SHIFT) - SWP_RESERVED_TYPES
#: ``BITS_PER_XA_VALUE`` (63 on 64-bit) minus the type bits.
SWP_TYPE_SHIFT: Final = 63 - MAX_SWAPFILES_SHIFT
SWP_OFFSET_MASK: Final = (1 << SWP_TYPE_SHIFT) - 1

#: Classic swap cache and zswap trees: one XArray (and lock) per 2**14 slots = 64 MiB.
SWAP_ADDRESS_SPACE_SHIFT: Final = 14
SWAP_ADDRESS_SPACE_PAGES: Final = 1 << SWAP_ADDRESS_SPACE_SHIFT
SWAP_ADDRESS_SPACE_MASK: Final = SWAP_ADDRESS_SPACE_PAGES - 1

SwpEntry = NewType("SwpEntry", int)
SwpSlot = NewType("SwpSlot", int)

NO_ENTRY: Final = SwpEntry(0)
SWAP_SLOT_INVALID: Final = SwpSlot(0)


def swp_entry(type_: int, offset: int) -> SwpEntry:
    """Models: ``swp_entry()`` (include/linux/swapops.h)."""
    return SwpEntry((type_ << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK))


def swp_type(entry: SwpEntry) -> int:
    """Models: ``swp_type()`` (include/linux/swapops.h)."""
    return entry >> SWP_TYPE_SHIFT


def swp_offset(entry: SwpEntry) -> int:
    """Models: ``swp_offset()`` (include/linux/swapops.h)."""
    return entry & SWP_OFFSET_MASK


def swp_slot(type_: int, offset: int) -> SwpSlot:
    """Models: ``swp_slot()`` (include/linux/swapops.h, seed patch 05)."""
    return SwpSlot((type_ << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK))


def swp_slot_type(slot: SwpSlot) -> int:
    """Models: ``swp_slot_type()`` (seed patch 05)."""
    return slot >> SWP_TYPE_SHIFT


def swp_slot_offset(slot: SwpSlot) -> int:
    """Models: ``swp_slot_offset()`` (seed patch 05)."""
    return slot & SWP_OFFSET_MASK


def non_swap_entry(entry: SwpEntry) -> bool:
    """Models: ``non_swap_entry()``: true for migration, device, hwpoison and marker types."""
    return swp_type(entry) >= MAX_SWAPFILES


def swap_address_space_index(offset: int) -> int:
    """Which 64 MiB address space (and zswap tree) of a device an offset falls in."""
    return offset >> SWAP_ADDRESS_SPACE_SHIFT


def folio_order_nr(order: int) -> int:
    """Pages in a folio of ``order``; raises KernelError(EINVAL) outside 0..HPAGE_PMD_ORDER."""
    if not 0 <= order <= HPAGE_PMD_ORDER:
        raise KernelError(Errno.EINVAL, f"folio order {order} outside 0..{HPAGE_PMD_ORDER}")
    return 1 << order
