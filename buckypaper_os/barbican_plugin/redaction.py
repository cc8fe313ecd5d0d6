"""Keep release tickets out of Barbican's request log.

A release carries its ticket in the payload URL's query string
(``trans_wrapped_session_key``), and Barbican's context middleware logs
every URL at INFO. A ticket only ever releases to its own TEE, but whoever
reads it can spend its instance's release budget until it expires, so the
Vault installs a filter on that logger that blanks the ticket.
"""

import logging
import re

#: The logger of Barbican's request lines ("Processed request: ... URL").
REQUEST_LOGGER = 'barbican.api.middleware.context'
#: What stands for a ticket in a logged URL.
REDACTED = '***'

_TICKET = re.compile(r'(trans_wrapped_session_key=)[^&#\s]*')


def redact(text: str) -> str:
    """``text`` with the value of every ticket parameter blanked."""
    return _TICKET.sub(r'\g<1>' + REDACTED, text)


def _clean(value):
    return redact(value) if isinstance(value, str) else value


class TicketFilter(logging.Filter):
    """Blanks tickets in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _clean(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_clean(v) for v in record.args)
        return True


def install(name: str = REQUEST_LOGGER) -> None:
    """Add the filter to logger ``name``, once."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, TicketFilter) for f in logger.filters):
        logger.addFilter(TicketFilter())
