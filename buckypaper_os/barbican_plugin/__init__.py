"""The Vault: a Barbican secret store that releases keys to attested TEEs.

See ``doc/vault.md``. :mod:`store` holds the entry point class; the other
modules import nothing from Barbican, so guests and tools can use them.
"""
