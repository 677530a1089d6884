"""Swap metadata: the kernel's per-structure sizes, shared by designs and the calculator."""
