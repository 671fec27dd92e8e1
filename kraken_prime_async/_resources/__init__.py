"""Endpoint coroutines grouped per API tag; each module declares its endpoints as data."""
