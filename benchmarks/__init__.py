"""Benchmarks for ``kraken_prime_async`` (not part of the test suite; see ``README.md``)."""
