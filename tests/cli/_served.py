"""``kraken-prime sandbox`` as a subprocess, and plain-HTTP helpers (stdlib only, no SDK)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.cli._support import SCRIPT

READY = "# serving until Ctrl-C"


@dataclass
class Served:
    """A running ``kraken-prime sandbox``: its exported environment and what it printed."""

    process: subprocess.Popen[str]
    env: dict[str, str] = field(default_factory=dict)
    banner: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def url(self) -> str:
        return self.env["KRAKEN_PRIME_BASE_URL"]

    def admin(self, verb: str, path: str, body: Any = None, token: str | None = "") -> Reply:
        """Call the admin API (``token=""``: the exported admin token; ``None``: no header)."""
        token = self.env["KRAKEN_SANDBOX_ADMIN_TOKEN"] if token == "" else token
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return http(verb, self.url + path, body, headers)

    def prime(self, operation: str, **params: Any) -> Reply:
        """A Prime call signed with the exported owner key, by hand."""
        key, secret = self.env["KRAKEN_PRIME_API_KEY"], self.env["KRAKEN_PRIME_API_SECRET"]
        nonce = time.time_ns()
        path = f"/0/private/{operation}"
        body = json.dumps({"nonce": nonce, **params}).encode()
        inner = hashlib.sha256(str(nonce).encode() + body).digest()
        mac = hmac.new(base64.b64decode(secret), path.encode() + inner, hashlib.sha512)
        headers = {"API-Key": key, "API-Sign": base64.b64encode(mac.digest()).decode()}
        return http("POST", self.url + path, body, headers)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def http(verb: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """One request with urllib; JSON in and out."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=verb, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return Reply(response.status, json.loads(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, json.loads(error.read() or b"null"), dict(error.headers))


@contextmanager
def served(*args: str) -> Iterator[Served]:
    """Start ``kraken-prime sandbox --port 0 ARGS``; stop it afterwards, keeping its log."""
    process = subprocess.Popen(  # noqa: S603 - our own script
        [str(SCRIPT), "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Served(process)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            server.banner.append(line.rstrip("\n"))
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                server.env[name] = value
            if line.startswith(READY):
                break
        else:
            raise AssertionError(f"sandbox did not start: {process.stderr.read()}")  # type: ignore[union-attr]
        yield server
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
        server.log.extend(out.splitlines())
        server.stderr = err
