"""Memory cgroups (v2): the hierarchy, its page counters, limits, statistics and events.

Models: mm/memcontrol.c and mm/page_counter.c (v6.14) for what the swap paths need:
``mem_cgroup_try_charge_swap()`` / ``mem_cgroup_uncharge_swap()``, the zswap hooks
``obj_cgroup_may_zswap()``, ``obj_cgroup_charge_zswap()``, ``obj_cgroup_uncharge_zswap()`` and
``mem_cgroup_zswap_writeback_enabled()``, ``count_memcg_events()`` and ``memcg_memory_event()``.
Knobs keep their cgroup-v2 file names (Documentation/admin-guide/cgroup-v2.rst).

Invariants (:meth:`MemCgroup.check_invariants`):

* Every counter is hierarchical: a charge to a cgroup is a charge to each ancestor, so a
  parent's usage equals its own local usage plus its children's (``page_counter``).
* Counters never go negative; a charge that would take any ancestor over its ``max`` fails and
  changes nothing (``page_counter_try_charge``).
* ``*_peak`` >= ``*_current`` at all times.

The hierarchy is cgroup v2's (``cgroup_subsys_on_dfl(memory_cgrp_subsys)`` true) unless the
tree is made with ``version=1``: then, as on a host whose memory controller is mounted on a
v1 hierarchy, the zswap hooks do nothing (``obj_cgroup_may_zswap()`` allows every store,
``obj_cgroup_charge_zswap()`` / ``obj_cgroup_uncharge_zswap()`` return at once: zswap's pool
is not charged to the cgroup and its ``memory.stat`` zswap lines stay 0; commit f4840ccfca25
"zswap: memcg accounting" opts v1 out, where memory+swap is counted by ``memsw``). Nothing
else of v1 is modelled: knobs and counters stay v2's.

Units: ``memory`` is counted in bytes (folios charge ``nr_pages * PAGE_SIZE``; zswap charges
its compressed bytes, as the kernel charges zswap objects to the obj_cgroup), ``swap`` in
pages, ``zswap`` in bytes. ``max`` values use ``MAX`` for the kernel's ``max``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Final

from vswap.errors import ConfigError
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE

#: The value the kernel prints as ``max`` (PAGE_COUNTER_MAX scaled); any limit >= it is "max".
MAX: Final = 1 << 62

#: ``memory.events`` keys (MEMCG_LOW .. MEMCG_OOM_GROUP_KILL subset the model raises).
MEMORY_EVENTS: Final = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")
#: ``memory.swap.events`` keys (MEMCG_SWAP_HIGH, MEMCG_SWAP_MAX, MEMCG_SWAP_FAIL).
SWAP_EVENTS: Final = ("high", "max", "fail")


class PageCounter:
    """Models: ``struct page_counter``: hierarchical usage, max and peak.

    ``usage`` includes all descendants; ``local`` is what was charged to this node itself.
    """

    __slots__ = ("local", "max", "parent", "peak", "usage")

    def __init__(self, parent: PageCounter | None) -> None:
        self.parent = parent
        self.usage = 0
        self.local = 0
        self.max = MAX
        self.peak = 0

    def try_charge(self, nr: int) -> PageCounter | None:
        """Models: ``page_counter_try_charge()``.

        Returns:
            None on success (every ancestor charged), or the counter whose max would be
            exceeded; in that case nothing was charged.
        """
        c: PageCounter | None = self
        while c is not None:
            if c.usage + nr > c.max:
                return c
            c = c.parent
        self.charge(nr)
        return None

    def charge(self, nr: int) -> None:
        """Models: ``page_counter_charge()``: charge unconditionally (may exceed max)."""
        self.local += nr
        c: PageCounter | None = self
        while c is not None:
            c.usage += nr
            if c.usage > c.peak:
                c.peak = c.usage
            c = c.parent

    def uncharge(self, nr: int) -> None:
        """Models: ``page_counter_uncharge()``; uncharging more than was charged is a bug."""
        if nr > self.local:
            raise KernelError(Errno.EINVAL,
                              f"page_counter underflow: uncharge {nr} > local {self.local}")
        self.local -= nr
        c: PageCounter | None = self
        while c is not None:
            c.usage -= nr
            c = c.parent


class MemCgroup:
    """One memory cgroup: knobs, counters, statistics and events.

    ``stat`` holds this cgroup's *local* ``memory.stat`` event counters (``pswpout``,
    ``zswpout``, ...); :meth:`memory_stat` sums them over the subtree as the kernel reports
    them. ``events_local`` is ``memory.events.local``; ``events`` is ``memory.events``
    (propagated to ancestors, as ``memcg_memory_event`` does).
    """

    def __init__(self, memcg_id: int, name: str, parent: MemCgroup | None, *,
                 on_dfl: bool = True) -> None:
        self.id = memcg_id
        #: ``cgroup_subsys_on_dfl(memory_cgrp_subsys)``: the hierarchy is v2 (False: v1).
        self.on_dfl = on_dfl
        self.name = name
        self.parent = parent
        self.children: list[MemCgroup] = []
        self.memory: PageCounter = PageCounter(parent.memory if parent else None)
        self.swap: PageCounter = PageCounter(parent.swap if parent else None)
        self.zswap: PageCounter = PageCounter(parent.zswap if parent else None)
        self.memory_high = MAX
        self.swap_high = MAX
        self.zswap_writeback = True
        self.stat: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.events_local: Counter[str] = Counter()
        self.swap_events: Counter[str] = Counter()
        self.online = True
        if parent is not None:
            parent.children.append(self)

    # -- hierarchy ---------------------------------------------------------------------
    def ancestors(self) -> Iterator[MemCgroup]:
        """This cgroup, then its parent, up to the root (``parent_mem_cgroup`` walk)."""
        c: MemCgroup | None = self
        while c is not None:
            yield c
            c = c.parent

    def subtree(self) -> Iterator[MemCgroup]:
        """This cgroup and all descendants, pre-order (``mem_cgroup_iter``)."""
        yield self
        for child in self.children:
            yield from child.subtree()

    @property
    def path(self) -> str:
        """The cgroup path as ``/sys/fs/cgroup`` shows it relative to the root (``/a/b``)."""
        if self.parent is None:
            return "/"
        parent = self.parent.path
        return (parent if parent != "/" else "") + "/" + self.name

    # -- swap charging -----------------------------------------------------------------
    def try_charge_swap(self, nr_pages: int) -> bool:
        """Models: ``__mem_cgroup_try_charge_swap()``.

        Charges ``nr_pages`` to ``memory.swap.current`` here and in every ancestor. On a limit
        hit raises the ``max`` and ``fail`` swap events on the cgroup whose limit was hit and
        returns False with nothing charged.
        """
        over = self.swap.try_charge(nr_pages)
        if over is None:
            return True
        for memcg in self.ancestors():
            if memcg.swap is over:
                memcg.memcg_swap_event("max")
                memcg.memcg_swap_event("fail")
                break
        return False

    def uncharge_swap(self, nr_pages: int) -> None:
        """Models: ``__mem_cgroup_uncharge_swap()``."""
        self.swap.uncharge(nr_pages)

    def memcg_swap_event(self, event: str) -> None:
        """Raise a ``memory.swap.events`` event here and in every ancestor."""
        for memcg in self.ancestors():
            memcg.swap_events[event] += 1

    # -- memory charging ---------------------------------------------------------------
    def try_charge_memory(self, nbytes: int) -> MemCgroup | None:
        """Try to charge ``nbytes`` of memory; returns None or the cgroup whose max stops it."""
        over = self.memory.try_charge(nbytes)
        if over is None:
            return None
        for memcg in self.ancestors():
            if memcg.memory is over:
                return memcg
        raise AssertionError("page counter not in the ancestor chain")

    def charge_memory(self, nbytes: int) -> None:
        """Charge ``nbytes`` unconditionally (``page_counter_charge``, as __GFP_NOFAIL does)."""
        self.memory.charge(nbytes)

    def uncharge_memory(self, nbytes: int) -> None:
        """Uncharge ``nbytes`` of memory."""
        self.memory.uncharge(nbytes)

    def memcg_memory_event(self, event: str) -> None:
        """Models: ``memcg_memory_event()``: local event here, hierarchical everywhere above."""
        self.events_local[event] += 1
        for memcg in self.ancestors():
            memcg.events[event] += 1

    # -- zswap hooks -------------------------------------------------------------------
    def obj_cgroup_may_zswap(self) -> bool:
        """Models: ``obj_cgroup_may_zswap()``: no ancestor at or over ``memory.zswap.max``.

        On cgroup v1 (not :attr:`on_dfl`) every store may go ahead. As the kernel: the root
        is not checked; a limit of 0 refuses outright; otherwise the
        limit is compared in whole pages (``MEMCG_ZSWAP_B / PAGE_SIZE >= zswap_max``, the
        byte limit rounded down to pages as ``page_counter_memparse`` stores it). A limit
        below the current usage is allowed: stores are refused until usage drops.
        """
        if not self.on_dfl:
            return True
        memcg: MemCgroup | None = self
        while memcg is not None:  # the ancestors() walk, without a generator
            if memcg.parent is not None and memcg.zswap.max < MAX:
                max_pages = memcg.zswap.max // PAGE_SIZE
                if max_pages == 0 or memcg.zswap.usage // PAGE_SIZE >= max_pages:
                    return False
            memcg = memcg.parent
        return True

    def obj_cgroup_charge_zswap(self, size: int) -> None:
        """Models: ``obj_cgroup_charge_zswap()``: charge compressed bytes as memory, count them.

        ``size == PAGE_SIZE`` is a page zswap stored uncompressed: it is also counted in
        ``zswap_incomp`` (``MEMCG_ZSWAP_INCOMP``, kernels after v6.14).

        The kernel charges in reclaim context (``PF_MEMALLOC``), where ``try_charge_memcg()``
        forces a charge past ``memory.max`` instead of reclaiming: the charge here is
        unconditional. On cgroup v1 (not :attr:`on_dfl`) nothing is charged or counted.
        """
        if not self.on_dfl:
            return
        self.memory.charge(size)
        self.zswap.charge(size)
        self.stat["zswapped_pages"] += 1
        if size == PAGE_SIZE:
            self.stat["zswap_incomp_pages"] += 1

    def obj_cgroup_uncharge_zswap(self, size: int) -> None:
        """Models: ``obj_cgroup_uncharge_zswap()`` (nothing on cgroup v1)."""
        if not self.on_dfl:
            return
        self.memory.uncharge(size)
        self.zswap.uncharge(size)
        self.stat["zswapped_pages"] -= 1
        if size == PAGE_SIZE:
            self.stat["zswap_incomp_pages"] -= 1

    def zswap_memory_stat(self) -> dict[str, int]:
        """The zswap lines of ``memory.stat`` (hierarchical), in the units the kernel prints.

        ``zswap``: bytes of compressed memory charged (``MEMCG_ZSWAP_B``; equals
        ``memory.zswap.current``); ``zswapped`` and ``zswap_incomp``: pages counted in
        ``MEMCG_ZSWAPPED`` / ``MEMCG_ZSWAP_INCOMP``, printed as bytes (pages * PAGE_SIZE), as
        ``memcg_page_state_output`` does; ``zswpin``, ``zswpout``, ``zswpwb``: page events.
        """
        return {
            "zswap": self.zswap.usage,
            "zswapped": self.memory_stat_value("zswapped_pages") * PAGE_SIZE,
            "zswap_incomp": self.memory_stat_value("zswap_incomp_pages") * PAGE_SIZE,
            "zswpin": self.memory_stat_value("zswpin"),
            "zswpout": self.memory_stat_value("zswpout"),
            "zswpwb": self.memory_stat_value("zswpwb"),
        }

    def mem_cgroup_zswap_writeback_enabled(self) -> bool:
        """Models: ``mem_cgroup_zswap_writeback_enabled()``: 0 anywhere above disables it."""
        memcg: MemCgroup | None = self
        while memcg is not None:  # the ancestors() walk, without a generator
            if not memcg.zswap_writeback:
                return False
            memcg = memcg.parent
        return True

    # -- statistics --------------------------------------------------------------------
    def count_memcg_events(self, name: str, nr: int = 1) -> None:
        """Models: ``count_memcg_events()``: a local event; reads sum the subtree."""
        self.stat[name] += nr

    def memory_stat_value(self, name: str) -> int:
        """A ``memory.stat`` counter summed over the subtree, as the kernel reports it."""
        return sum(memcg.stat[name] for memcg in self.subtree())

    def check_invariants(self) -> None:
        """Raise AssertionError if a counter invariant (module docstring) does not hold."""
        for name in ("memory", "swap", "zswap"):
            counter: PageCounter = getattr(self, name)
            assert counter.local >= 0 and counter.usage >= 0, f"negative {name} counter"
            assert counter.peak >= counter.usage, f"{name} peak below usage"
            children = sum(getattr(child, name).usage for child in self.children)
            assert counter.usage == counter.local + children, (
                f"{self.path}: {name} usage {counter.usage} != local {counter.local}"
                f" + children {children}")

    def __repr__(self) -> str:
        return f"MemCgroup(id={self.id}, path={self.path!r})"


class MemCgroupTree:
    """All memory cgroups of a machine, by id (``mem_cgroup_from_id``) and by path.

    ``version``: 2 (the default hierarchy) or 1 (the memory controller on a v1 hierarchy;
    see the module docstring for what the model makes of it).

    Raises:
        ConfigError: a version other than 1 or 2.
    """

    def __init__(self, version: int = 2) -> None:
        if version not in (1, 2):
            raise ConfigError(f"cgroup version {version!r}: 1 or 2")
        self.version = version
        self._by_id: dict[int, MemCgroup] = {}
        self._next_id = 1
        self.root = self._new("", None)

    def _new(self, name: str, parent: MemCgroup | None) -> MemCgroup:
        memcg = MemCgroup(self._next_id, name, parent, on_dfl=self.version == 2)
        self._by_id[memcg.id] = memcg
        self._next_id += 1
        return memcg

    def create(self, path: str) -> MemCgroup:
        """Create the cgroup at ``path`` (``/a/b``), and missing ancestors, like ``mkdir -p``."""
        node = self.root
        for part in [p for p in path.split("/") if p]:
            for child in node.children:
                if child.name == part:
                    node = child
                    break
            else:
                node = self._new(part, node)
        return node

    def lookup(self, path: str) -> MemCgroup:
        """The cgroup at ``path``; raises KernelError(ENOENT) if there is none."""
        node = self.root
        for part in [p for p in path.split("/") if p]:
            for child in node.children:
                if child.name == part:
                    node = child
                    break
            else:
                raise KernelError(Errno.ENOENT, f"no memory cgroup {path!r}")
        return node

    def mem_cgroup_from_id(self, memcg_id: int) -> MemCgroup | None:
        """Models: ``mem_cgroup_from_id()``; id 0 (none) and unknown ids give None."""
        return self._by_id.get(memcg_id)

    def __iter__(self) -> Iterator[MemCgroup]:
        return self.root.subtree()


def folio_bytes(nr_pages: int) -> int:
    """Bytes charged to ``memory`` for ``nr_pages`` resident pages."""
    return nr_pages * PAGE_SIZE
