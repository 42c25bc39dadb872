"""Benchmarks: scripts that print a figure and its ratio to a ceiling measured in the same run."""
