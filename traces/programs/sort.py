"""Sort a list of 20,000 random floats (the trace traces/python-sort.npz records this)."""
import random

rng = random.Random(1)
xs = [rng.random() for _ in range(20_000)]
xs.sort()
print(xs[0] <= xs[-1])
