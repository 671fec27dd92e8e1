"""The lost-answer rules: what a non-idempotent write's read-back proves (``base`` holds the
machinery and the settlement rules, ``users`` the API-user and key rules, ``fast_api`` the Fast
API key rule)."""
