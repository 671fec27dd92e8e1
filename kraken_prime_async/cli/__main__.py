"""``python -m kraken_prime_async.cli``."""

import sys

from . import main

sys.exit(main())
