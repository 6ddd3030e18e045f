"""Corpus generation and benchmarks (not part of the installed package)."""
