"""The benchmark of issue 6: the real processes, measured. See docs/benchmark.md."""
