"""Nitride: the attestation verifier service."""
