"""Sort a list of 100,000 random floats (the trace traces/python-sort.npz records this)."""
import random

rng = random.Random(1)
xs = [rng.random() for _ in range(100_000)]
xs.sort()
print(xs[0] <= xs[-1])
