"""The swap layer: devices, the swap cache, and the swap designs behind one swap API."""
