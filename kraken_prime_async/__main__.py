"""``python -m kraken_prime_async``: the ``kraken-prime`` command line."""

import sys

from .cli import main

sys.exit(main())
