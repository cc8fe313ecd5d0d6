"""Nitride's guest-facing HTTP API: challenge, attest, JWKS (WSGI)."""
