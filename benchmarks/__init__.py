"""headwater's benchmarks: one module per benchmark, run by `headwater bench` (see README.md)."""
