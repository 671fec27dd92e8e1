"""Every tunable default the SDK uses, named once.

Reading this module tells you how the client behaves when you pass nothing: timeouts, connection
limits, retry and pacing settings, fleet and Redis budgets, settle-batch defaults, input limits.
Constants that are part of an algorithm rather than a setting stay beside their algorithm (for
example the in-process gate's ``WINDOW_SAFETY`` in ``_keys/local.py``, the rate-limit model's
``HEADROOM`` and tier table in ``_keys/pacing.py``, and record layouts in ``_keys/fleet/``).
"""

from __future__ import annotations

from typing import Final

DEFAULT_BASE_URL: Final = "https://api.kraken.com"
PRIVATE_PATH_PREFIX: Final = "/0/private/"
#: Kraken Connect OAuth: the Fast API key operations live at ``<base_url>/oauth/fast-api-key``
#: (Kraken's spec: server ``https://api.kraken.com/oauth``, path ``/fast-api-key``).
OAUTH_PATH_PREFIX: Final = "/oauth"
FAST_API_KEY_PATH: Final = f"{OAUTH_PATH_PREFIX}/fast-api-key"

#: Whole-request budget and connect budget, in seconds (the clients' default ``timeout=``, and
#: the CLI's ``--timeout``).
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_CONNECT_TIMEOUT: Final = 10.0

#: The connection pool of a session the client creates: open connections in all, and how long a
#: DNS answer is reused (seconds).
DEFAULT_CONNECTOR_LIMIT: Final = 100
DEFAULT_DNS_CACHE_TTL: Final = 300

#: Nonce unit. Milliseconds is what Kraken recommends and what other Kraken tools send; a key that
#: has ever seen a larger unit can never go back (nonces cannot be reset), so the smallest safe
#: unit is the default. See ``docs/nonces-and-fleets.md``, "Nonces in one process".
DEFAULT_NONCE_UNIT: Final = "ms"
NONCE_MAX: Final = 2**63 - 1
#: Requests of one key on the wire at once when the key has a nonce window (else 1).
DEFAULT_MAX_IN_FLIGHT: Final = 8

#: A request sent and then abandoned without an answer (timeout, cancellation) may still reach
#: Kraken. The client watches it in the background and its key's slot stays taken until its
#: answer or the connection's end is seen, at most ``ABANDON_HOLD_MAX`` seconds. When it cannot be
#: watched (a caller's own Transport, a gateway's error page) the slot is held for 2 x the key's
#: decaying 95th-percentile answer time, never below ``DEFAULT_ABANDON_HOLD`` and never above
#: ``ABANDON_HOLD_MAX`` (``abandon_hold="auto"``). See docs, "Guarantees: no nonce ban".
DEFAULT_ABANDON_HOLD: Final = 2.0
ABANDON_HOLD_MAX: Final = 30.0
#: Abandoned requests one transport watches at once; beyond, an abandoned request is dropped
#: and its slot falls back to the hold.
ABANDON_WATCH_LIMIT: Final = 64
#: A poisoned key fails fast: at most this many ``EAPI:Invalid nonce`` refusals per key within
#: ``NONCE_REFUSAL_PERIOD`` seconds; then nothing is sent on the key until the oldest is that old.
NONCE_REFUSAL_LIMIT: Final = 5
NONCE_REFUSAL_PERIOD: Final = 60.0
#: ``rate_limit="auto"`` paces a key (or a fleet's key) as the tier it learnt from a rate-limit
#: refusal, and stops pacing after this many seconds without another refusal.
AUTO_RATE_LIMIT_QUIET: Final = 300.0

#: A call that waited longer than this in total (seconds) for its key's rate limit (pacing, a
#: ``Throttled`` hold, backoff after a refusal) logs one WARNING naming the wait, why and the fix.
PACING_WARNING_SECONDS: Final = 5.0

#: A fleet's in-flight slot outlives its attempt's timeout by this much before another member
#: may take it over (only matters when the holder died without freeing it).
FLEET_LEASE_MARGIN: Final = 5.0
#: Polling while another fleet member holds the key's last free slot: first and longest pause (s).
FLEET_GATE_POLL_FIRST: Final = 0.0005
FLEET_GATE_POLL_MAX: Final = 0.01
#: Creates under way are registered (in the process, and with the fleet's store) before they are
#: sent, so a lost create can tell its own object from another visible writer's. A registration is
#: forgotten this long (s) after its last change; a read-back waits at most
#: ``CLAIM_WAIT`` (s) for the creates still under way when it was made, polling every
#: ``CLAIM_POLL`` (s) at most.
CLAIM_TTL: Final = 600.0
CLAIM_WAIT: Final = 30.0
CLAIM_POLL: Final = 0.05
#: Socket budgets (s) for a Redis client built from a URL: a Redis that went away fails calls fast.
REDIS_SOCKET_TIMEOUT: Final = 5.0
REDIS_CONNECT_TIMEOUT: Final = 2.0
#: Prefix of every Redis key a ``RedisFleet`` uses.
DEFAULT_REDIS_NAMESPACE: Final = "kraken-prime"

#: Retry policy defaults (see ``RetryPolicy``).
DEFAULT_MAX_ATTEMPTS: Final = 4
DEFAULT_MAX_NONCE_RETRIES: Final = 2
DEFAULT_INITIAL_BACKOFF: Final = 0.5
DEFAULT_RATE_LIMIT_BACKOFF: Final = 1.0
DEFAULT_MAX_BACKOFF: Final = 60.0
DEFAULT_MAX_THROTTLE_WAIT: Final = 120.0
#: Retry budget (gRPC-style retry throttling shared by one client): every retryable failure costs
#: one token, every success earns ``DEFAULT_RETRY_BUDGET_RATIO``; retries stop while the bucket is
#: at or below half of ``DEFAULT_RETRY_BUDGET_TOKENS``.
DEFAULT_RETRY_BUDGET_TOKENS: Final = 10.0
DEFAULT_RETRY_BUDGET_RATIO: Final = 0.1

#: ``settle_batch``: legs settled at once, and seconds between polls of an unconfirmed batch.
DEFAULT_SETTLE_CONCURRENCY: Final = 4
DEFAULT_SETTLE_POLL_INTERVAL: Final = 2.0

#: Client-side input limits.
MAX_LIST_LIMIT: Final = 200
#: Ids (``user_id``, ``key_id``, ``batch_id``, ``asset``, the API key): Kraken's are 13-56 visible
#: ASCII characters; anything longer is refused before it is uploaded.
MAX_ID_LENGTH: Final = 128
#: Largest integer argument sent (Kraken reads JSON integers as int64).
MAX_WIRE_INTEGER: Final = 2**63 - 1
MAX_USER_NAME_LENGTH: Final = 256
MAX_FAST_API_KEY_NAME_LENGTH: Final = 32

#: Key audit thresholds (``client.api_user_keys.audit``): more keys per user than a rotation
#: needs (the old key and its successor) is ``many_keys``; an allow-list entry with a prefix
#: shorter than these (a whole office or provider range rather than a few hosts) is
#: ``wide_ip_range``.
AUDIT_MAX_KEYS_PER_USER: Final = 2
AUDIT_MIN_IPV4_PREFIX: Final = 24
AUDIT_MIN_IPV6_PREFIX: Final = 48

#: Largest answer body read, in bytes (``max_response_bytes=``). Kraken's largest page (200
#: batches) is about 150 KB; a longer answer is refused while it is read.
DEFAULT_MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024

#: How much of a non-JSON error body is kept on an exception.
ERROR_BODY_SNIPPET: Final = 200

LOGGER_NAME: Final = "kraken_prime_async"

#: Write journal (``PrimeClient(journal=...)``): how long a SQLite journal waits for another
#: process's transaction (seconds), how often a write waits for one another live process has in
#: flight under the same idempotency key is re-read, and for how long at most (seconds).
JOURNAL_BUSY_TIMEOUT: Final = 10.0
JOURNAL_WAIT_POLL: Final = 0.2
JOURNAL_MAX_WAIT: Final = 120.0
#: A Redis journal member on another host counts as alive while its lease (renewed every third
#: of it while the journal is open) has not expired, in seconds.
JOURNAL_OWNER_LEASE: Final = 60.0
DEFAULT_JOURNAL_NAMESPACE: Final = "kraken-prime:journal"

#: ``client.settlement.watch``: seconds between polls (every poll is one paced read).
DEFAULT_WATCH_INTERVAL: Final = 5.0
