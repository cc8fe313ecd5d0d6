"""The operator's allowlist of launch measurements (``[nitride]
allowed_measurements_file``).

RabbitMQ authenticates connections, not messages: whoever holds broker
credentials, every nova-compute host included, can register any
measurement for any instance. With an allowlist, registrations may name
only the measurements the operator approved (for example those
``buckypaper-measure`` computes for each firmware and flavor), and
evidence is appraised against the registered measurements that are still
on the list. The file lives on the Nitride hosts, out of the broker's
reach.

The file holds one measurement per line, hex of 48 bytes (SEV-SNP
``MEASUREMENT``, TDX ``MRTD``); blank lines and ``#`` comments are
ignored.
"""

import typing

MEASUREMENT_HEX = 96


class AllowlistError(ValueError):
    """The allowlist file cannot be read or is not valid."""


def load(path: typing.Optional[str]) -> typing.Optional[typing.FrozenSet[str]]:
    """The measurements (lower-case hex) in ``path``; None if unset.

    Raises :class:`AllowlistError` naming the first bad line: a Nitride
    that cannot read its allowlist must not start without it.
    """
    if not path:
        return None
    try:
        with open(path, encoding='ascii') as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AllowlistError('allowed measurements file %s: %s'
                             % (path, exc)) from None
    found = set()
    for number, line in enumerate(lines, 1):
        text = line.split('#', 1)[0].strip().lower()
        if not text:
            continue
        if len(text) != MEASUREMENT_HEX or not all(
                c in '0123456789abcdef' for c in text):
            raise AllowlistError('allowed measurements file %s, line %d: '
                                 'not %d hex digits' % (path, number,
                                                        MEASUREMENT_HEX))
        found.add(text)
    if not found:
        # An empty list would refuse every registration: a mistake.
        raise AllowlistError('allowed measurements file %s lists no '
                             'measurement' % path)
    return frozenset(found)


def permitted(allowed: typing.Optional[typing.FrozenSet[str]],
              measurements: typing.Iterable[str]) -> typing.List[str]:
    """Those of ``measurements`` the allowlist permits (all without one)."""
    return [m for m in measurements
            if allowed is None or m.lower() in allowed]
