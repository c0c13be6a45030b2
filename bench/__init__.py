"""Benchmarks that print ratios measured side by side in one run (not part of the test run)."""
