"""The standard benchmark (docs/benchmarks.md): Parley's own overhead at growing concurrency."""
