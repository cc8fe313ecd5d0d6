"""The one exception type for evidence that cannot be used."""


class EvidenceError(ValueError):
    """Evidence, certificates, collateral or policy that cannot be parsed.

    The message says what is wrong in one line. It never carries key
    material; byte strings in messages are limited to lengths and offsets.
    """
