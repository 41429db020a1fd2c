"""Fuzzing a real Parley server: strategies, oracles and the tests (see fuzz/README.md)."""
