"""An embedded Kraken Prime REST server for tests and demos.

``PrimeSandbox`` runs an aiohttp server on loopback with real state (API users, keys, trades,
settlement batches, legs, transfers) and Kraken's rules: ``API-Sign`` verification, per-key nonces
with nonce windows, the call-counter rate limit, temporary lockouts, role permissions, immediate
key revocation, ``additionalProperties: false`` validation and scriptable faults.

Error strings
-------------
Kraken's documented strings: ``EAPI:Invalid key`` (missing/unknown/deleted key, disabled user,
expired Fast API key), ``EAPI:Invalid signature``, ``EAPI:Invalid nonce``,
``EAPI:Rate limit exceeded``, ``EGeneral:Temporary lockout``, ``EGeneral:Permission denied``,
``EGeneral:Unknown Method``, ``EGeneral:Invalid arguments:<field>`` (unknown, missing or mistyped
field; ``…:nonce`` for a missing/non-integer nonce; bare ``EGeneral:Invalid arguments`` for a body
that is not a JSON object).

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
* Locked-out requests do not extend the lockout.
* A batch is active until every non-zero leg is settled; zero legs never settle
  (``can_settle`` false) and do not hold the batch back.
* ``asset_kind`` ``spot``/``option``/``future`` are accepted on Get/List and do not filter.
* ``whitelisted_ips``/``ip_allowlist`` are stored but not enforced.
"""

from kraken_prime_async.sandbox._faults import Fault, FaultKind, Faults
from kraken_prime_async.sandbox._records import RequestRecord
from kraken_prime_async.sandbox._rules import Tier, TierLimits
from kraken_prime_async.sandbox._server import PrimeSandbox, SandboxCredentials, serve

__all__ = [
    "Fault",
    "FaultKind",
    "Faults",
    "PrimeSandbox",
    "RequestRecord",
    "SandboxCredentials",
    "Tier",
    "TierLimits",
    "serve",
]
