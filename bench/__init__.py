"""Benchmarks: programs run by hand that print figures (see bench/README.md). Not tests."""
