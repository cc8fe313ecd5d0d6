"""The enclaivelet: the in-guest agent that unlocks a cVM's disk.

Challenge, evidence (configfs-tsm or ``/dev/sev-guest``), attestation and
sealed release through Nitride's guest API, then a LUKS2 unlock. See
``doc/enclaivelet.md``.
"""
