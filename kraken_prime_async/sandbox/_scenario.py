"""Scenarios: sandbox options, trades, users, keys and faults as data (a TOML file to check in).

Every key is optional; unknown keys are refused with the key's path (``trades[0].amout``)::

    tier = "pro"                    # "starter" | "intermediate" | "pro"
    rate_limit = false              # the call counter off
    nonce_window = 5000             # owner's key and keys created later
    latency = [0.0, 0.01]           # seconds of random delay per request
    auto_confirm = 2.0              # batches confirm themselves after 2 s
    lockout_after = 15
    seed = 7                        # reproducible ids and latency draws
    admin_token = "local-admin"     # fixed admin API token (random otherwise)

    [owner]                         # fixed owner credentials (random otherwise)
    api_key = "KRA-OWNER"
    api_secret = "<base64>"

    [[trades]]
    asset = "BTC"
    amount = "1.5"                  # a decimal string (or an integer)
    asset_kind = "currency"         # or "tokenized_equity"

    [[users]]
    name = "Desk A"
    role = "Trader"                 # or "Viewer"
    keys = [{ api_key = "KRA-DESK-A", api_secret = "<base64>" }, {}]   # {} = random pair

    [[faults]]
    operation = "SettlePrimeSettlementBatchAsset"   # leave out for any operation
    kind = "drop_after"
    times = 1                       # default 1; "forever": every matching request
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from kraken_prime_async.sandbox._server import PrimeSandbox, SandboxCredentials

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: Scenario option → ``PrimeSandbox`` keyword, with the accepted Python types.
OPTIONS: Final[Mapping[str, tuple[str, tuple[type, ...]]]] = {
    "tier": ("tier", (str,)),
    "rate_limit": ("rate_limit", (bool,)),
    "nonce_window": ("nonce_window", (int,)),
    "latency": ("latency", (list,)),
    "auto_confirm": ("auto_confirm_after", (int, float)),
    "lockout_after": ("lockout_after", (int,)),
    "lockout_seconds": ("lockout_seconds", (int, float)),
    "seed": ("seed", (int,)),
    "admin_token": ("admin_token", (str,)),
    "host": ("host", (str,)),
    "port": ("port", (int,)),
}
_TOP: Final = frozenset({*OPTIONS, "owner", "trades", "users", "faults"})
_FAULT_KEYS: Final = ("operation", "kind", "times", "seconds", "message", "processed")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the offending key."""


@dataclass(frozen=True)
class CreatedUser:
    """A user a scenario created, with its keys."""

    name: str
    user_id: str
    keys: tuple[SandboxCredentials, ...]


@dataclass
class Scenario:
    """Sandbox options plus what to create once it exists.

    Attributes
    ----------
    options : dict
        ``PrimeSandbox`` keyword arguments.
    trades : list of (asset, amount, asset_kind)
    users : list of (name, role, list of optional (api_key, api_secret))
    faults : list of ``Faults.add`` keyword arguments
    """

    options: dict[str, Any] = field(default_factory=dict)
    trades: list[tuple[str, str | int, str]] = field(default_factory=list)
    users: list[tuple[str, str, list[tuple[str, str] | None]]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Read a scenario from parsed TOML (or any mapping of the same shape)."""
        _no_unknown(data, _TOP, "")
        scenario = cls()
        for name, (keyword, types) in OPTIONS.items():
            if name in data:
                scenario.options[keyword] = _option(name, data[name], types)
        owner = _table(data.get("owner", {}), "owner")
        _no_unknown(owner, {"api_key", "api_secret"}, "owner.")
        scenario.options.update({k: _string(owner, k, "owner.") for k in owner})
        for i, trade in enumerate(_tables(data, "trades")):
            where = f"trades[{i}]."
            _no_unknown(trade, {"asset", "amount", "asset_kind"}, where)
            amount = trade.get("amount")
            if isinstance(amount, bool) or not isinstance(amount, (str, int)):
                raise ScenarioError(f'{where}amount: give a decimal string such as "1.5"')
            kind = _string(trade, "asset_kind", where) if "asset_kind" in trade else "currency"
            scenario.trades.append((_string(trade, "asset", where), amount, kind))
        for i, user in enumerate(_tables(data, "users")):
            scenario.users.append(_user(user, f"users[{i}]."))
        for i, fault in enumerate(_tables(data, "faults")):
            scenario.faults.append(_fault(fault, f"faults[{i}]."))
        return scenario

    def build(self, **overrides: Any) -> PrimeSandbox:
        """A new sandbox with the scenario's options (``overrides`` win), not yet started."""
        try:
            return PrimeSandbox(**{**self.options, **overrides})
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None

    def apply(self, sandbox: PrimeSandbox) -> list[CreatedUser]:
        """Book the trades, create the users and keys, queue the faults; return the users."""
        try:
            for asset, amount, kind in self.trades:
                sandbox.add_trade(asset, amount, asset_kind=kind)
            created = []
            for name, role, keys in self.users:
                user_id = sandbox.add_api_user(name, role)
                issued = tuple(
                    sandbox.add_api_key(user_id, api_key=pair[0], api_secret=pair[1])
                    if pair
                    else sandbox.add_api_key(user_id)
                    for pair in keys
                )
                created.append(CreatedUser(name, user_id, issued))
            for fault in self.faults:
                keywords = fault_copy(fault)
                sandbox.faults.add(keywords.pop("operation", None), **keywords)
        except (ValueError, TypeError) as exc:
            raise ScenarioError(str(exc)) from None
        return created


def fault_copy(fault: dict[str, Any]) -> dict[str, Any]:
    """``Faults.add`` keywords (``times = "forever"`` becomes ``None``)."""
    copy = dict(fault)
    if copy.get("times") == "forever":
        copy["times"] = None
    return copy


def load_scenario(path: str | Path) -> Scenario:
    """Read a TOML scenario file.

    Raises
    ------
    ScenarioError
        When the file cannot be read or parsed, or a key is unknown or of the wrong type.
    """
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path} is not valid TOML: {exc}") from None
    return Scenario.from_dict(data)


def _no_unknown(table: Mapping[str, Any], known: frozenset[str] | set[str], where: str) -> None:
    for name in table:
        if name not in known:
            raise ScenarioError(f"{where}{name}: unknown key")


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a table")
    return value


def _tables(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise ScenarioError(f"{name}: expected an array of tables ([[{name}]])")
    return [_table(item, f"{name}[{i}]") for i, item in enumerate(value)]


def _string(table: Mapping[str, Any], name: str, where: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}{name}: expected a non-empty string")
    return value


def _option(name: str, value: Any, types: tuple[type, ...]) -> Any:
    if name == "latency":
        return _latency(value)
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise ScenarioError(f"{name}: expected {' or '.join(t.__name__ for t in types)}")
    return value


def _latency(value: Any) -> tuple[float, float]:
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ScenarioError("latency: expected [low, high] in seconds")
    return (float(value[0]), float(value[1]))


def _user(user: Mapping[str, Any], where: str) -> tuple[str, str, list[tuple[str, str] | None]]:
    _no_unknown(user, {"name", "role", "keys"}, where)
    role = _string(user, "role", where) if "role" in user else "Trader"
    keys = user.get("keys", [])
    if isinstance(keys, int) and not isinstance(keys, bool):
        keys = [{}] * keys
    if not isinstance(keys, list):
        raise ScenarioError(f"{where}keys: expected a count or an array of tables")
    pairs: list[tuple[str, str] | None] = []
    for j, key in enumerate(keys):
        table = _table(key, f"{where}keys[{j}]")
        _no_unknown(table, {"api_key", "api_secret"}, f"{where}keys[{j}].")
        if not table:
            pairs.append(None)
            continue
        pairs.append(
            (_string(table, "api_key", f"{where}keys[{j}]."), _string(table, "api_secret", where))
        )
    return _string(user, "name", where), role, pairs


def _fault(fault: Mapping[str, Any], where: str) -> dict[str, Any]:
    _no_unknown(fault, set(_FAULT_KEYS), where)
    checked: dict[str, Any] = {"kind": _string(fault, "kind", where)}
    if "operation" in fault:
        checked["operation"] = _string(fault, "operation", where)
    times = fault.get("times", 1)
    if times != "forever" and (isinstance(times, bool) or not isinstance(times, int)):
        raise ScenarioError(f'{where}times: expected an integer or "forever"')
    checked["times"] = times
    for name, types in (("seconds", (int, float)), ("message", (str,)), ("processed", (bool,))):
        if name in fault:
            checked[name] = _option(f"{where}{name}", fault[name], types)
    return checked
