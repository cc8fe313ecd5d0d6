"""A simulated SEV-SNP TEE for end-to-end tests and demos.

It signs real-format ATTESTATION_REPORTs under a locally generated ARK /
ASK / VCEK chain. The verifier trusts that chain only when its trust store
(:meth:`pki.SimulatedPki.trust_store`, :func:`pki.load_trust`) is passed
explicitly; AMD's pinned roots refuse it.
"""
