"""One API key's machinery: the per-key gate (``gate``) composed of the in-process gate
(``local``), call-counter pacing (``pacing``), nonce sources (``nonces``), the poisoned-key
cool-down (``refusals``), nonce fences (``fence``) and the fleets that share a key across
processes and hosts (``fleet/``)."""
