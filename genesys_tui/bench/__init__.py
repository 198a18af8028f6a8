"""Benchmarks that print figures: throughput, scaling, and side-by-side ratios."""
