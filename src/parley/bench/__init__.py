"""The standard benchmark (BENCHMARK.md): Parley's own overhead at growing concurrency."""
