"""The execution engine: simulated CPUs, virtual time, locks and I/O queues (no swap knowledge)."""
