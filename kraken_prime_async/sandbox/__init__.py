"""An embedded Kraken Prime REST server for tests and demos.

``PrimeSandbox`` runs an aiohttp server on loopback with real state (API users, keys, trades,
settlement batches, legs, transfers) and Kraken's rules: ``API-Sign`` verification, per-key nonces
with nonce windows, the call-counter rate limit, temporary lockouts, role permissions, immediate
key revocation, ``additionalProperties: false`` validation and scriptable faults (``_faults``).

Layout: ``_server`` (``PrimeSandbox``: options, lifecycle, log, helpers), ``_http`` (routes and
the per-request steps), ``_prime`` (the Prime chain: authenticate → admit → execute), ``_fast_api``
(its OAuth twin), ``_operations`` (the 13 Prime operations as data), ``_state`` and ``_views``
(account records and their JSON), ``_rules`` (nonces, call counter, lockouts), ``_errors``,
``_records`` (``RequestRecord``, ``Announcement``), ``_admin`` (the ``/_sandbox/`` admin API) and
``_scenario`` (TOML scenarios). Guide: ``docs/testing-with-the-sandbox.md``.

Error strings
-------------
Kraken's documented strings: ``EAPI:Invalid key`` (missing/unknown/deleted key, disabled user,
expired Fast API key), ``EAPI:Invalid signature``, ``EAPI:Invalid nonce``,
``EAPI:Rate limit exceeded``, ``EGeneral:Temporary lockout``, ``EGeneral:Permission denied``,
``EGeneral:Unknown Method``, ``EGeneral:Invalid arguments:<field>`` (unknown, missing or mistyped
field; ``…:nonce`` for a missing, non-integer or out-of-range nonce (int64: ``0 <= nonce < 2**63``);
bare ``EGeneral:Invalid arguments`` for a body that is not a JSON object, including one nested too
deeply to decode). A field name echoed in a detail is made safe: anything but printable ASCII
becomes ``?`` (Kraken's error strings are ASCII), it is cut at 64 characters (ending in ``...``),
and an empty name reads ``(empty)``. Another HTTP verb than POST on a Prime path (or than
POST/GET/PUT/DELETE on the Fast API path) is HTTP 405 ``EAPI:Bad request``; an unknown path is
HTTP 404 ``EGeneral:Unknown Method``; a body over 1 MiB is HTTP 413 ``EAPI:Bad request`` (not read
further, and logged like any request). ``GET /0/public/Time`` answers Kraken's ``{"unixtime",
"rfc1123"}`` from the sandbox clock.

The envelope
------------
Every answer is Kraken's JSON envelope, except the HTML pages of the ``http_502_html`` and
``http_503_html`` faults (a gateway's, by design). An HTTP 200 answer always carries ``result``:
``{"error": [], "result": {...}}`` on success and ``{"error": ["EAPI:Invalid key"], "result": {}}``
on a refusal. Kraken's documents disagree here (the REST introduction says failed requests carry
only ``error``; the Prime spec's 200 schemas mark ``result`` required, and the errors guide shows
an error with ``"result": {}``): the sandbox follows the Prime spec and the errors guide, the
stricter reading, so a client that needs ``result`` on every 200 answer is tested against it (the
SDK accepts both). An answer with another status (404, 405, 413, 500) carries only ``error``, the
shape of the spec's HTTP 500 response.

Kraken does not document its business-rule errors; the sandbox uses:

* ``EGeneral:Invalid arguments:unknown user_id``
* ``EGeneral:Invalid arguments:unknown key_id`` (also: a key of another user)
* ``EGeneral:Invalid arguments:unknown batch_id`` (also: Get with another ``asset_kind``)
* ``EGeneral:Invalid arguments:unknown asset`` (Settle: the batch has no leg for it)
* ``EGeneral:Invalid arguments:active batch exists`` (an unsettled or partially settled batch of
  the same ``asset_kind``)
* ``EGeneral:Invalid arguments:no unsettled trades``
* ``EGeneral:Invalid arguments:batch not confirmed``
* ``EGeneral:Invalid arguments:leg not settleable`` (net amount zero)
* ``EGeneral:Invalid arguments:leg already settling`` / ``…:leg already settled``

Fast API (``/oauth/fast-api-key``): HTTP 401 ``EAuth:Invalid token``, HTTP 403
``EGeneral:Permission denied`` (scope), HTTP 400 ``EGeneral:Invalid arguments:<field>``,
``…:duplicate api_key_name``, ``…:unknown api_key_name``.

Semantics chosen where Kraken is silent
---------------------------------------
* Every call costs 1 on the call counter, including rejected ones once the key and signature are
  valid; a rejected nonce is still counted.
* Lockouts (Kraken's errors guide: too many *sequential* failures; "each retry resets the
  timer"): ``lockout_after`` invalid key, signature or nonce failures in a row lock the key (a
  request that passes the nonce check clears the count; there is no time window), and each
  request during the lockout starts its ``lockout_seconds`` again.
* A batch is active until every non-zero leg is settled; zero legs never settle
  (``can_settle`` false) and do not hold the batch back.
* ``asset_kind`` ``spot``/``option``/``future`` are accepted on Get/List and do not filter.
* ``whitelisted_ips``/``ip_allowlist`` are stored but not enforced.
"""

from kraken_prime_async.sandbox._faults import FAULT_KINDS, Fault, FaultKind, Faults
from kraken_prime_async.sandbox._records import Announcement, RequestRecord, print_exports
from kraken_prime_async.sandbox._rules import Tier, TierLimits
from kraken_prime_async.sandbox._scenario import Scenario, ScenarioError, load_scenario
from kraken_prime_async.sandbox._server import (
    PrimeSandbox,
    SandboxCredentials,
    serve,
)

__all__ = [
    "FAULT_KINDS",
    "Announcement",
    "Fault",
    "FaultKind",
    "Faults",
    "PrimeSandbox",
    "RequestRecord",
    "SandboxCredentials",
    "Scenario",
    "ScenarioError",
    "Tier",
    "TierLimits",
    "load_scenario",
    "print_exports",
    "serve",
]
