"""Benchmarks: each scenario measures the engine and a baseline in the same run."""
