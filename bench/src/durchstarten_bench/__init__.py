"""Benchmarks of the Durchstarten pipeline, each figure next to the same machine's limits.

`python -m durchstarten_bench` (or `make bench`) starts its own stack, measures the limits of
Kafka and PostgreSQL, then the pipeline's figures, and writes docs/BENCHMARKS.md and a JSON
file with every figure, the machine, the versions and the settings.
"""
