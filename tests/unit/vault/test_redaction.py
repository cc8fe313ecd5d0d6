"""Tickets are blanked in Barbican's request log."""

import logging

from buckypaper_os.barbican_plugin import redaction
from buckypaper_os.barbican_plugin import store as store_mod

TICKET = 'eyJhbGciOiJFUzM4NCJ9.eyJqdGkiOiIxIn0.c2ln'
URL = ('http://127.0.0.1/v1/secrets/s/payload?trans_wrapped_session_key=%s'
       '&transport_key_id=tk' % TICKET)


def test_redact():
    assert redaction.redact(URL) == (
        'http://127.0.0.1/v1/secrets/s/payload?trans_wrapped_session_key='
        '***&transport_key_id=tk')
    assert redaction.redact('a?x=1&trans_wrapped_session_key=%s '
                            'trans_wrapped_session_key=%s#f'
                            % (TICKET, TICKET)) == (
        'a?x=1&trans_wrapped_session_key=*** '
        'trans_wrapped_session_key=***#f')
    assert redaction.redact('/v1/secrets/s/payload') == (
        '/v1/secrets/s/payload')


def test_barbican_request_line_has_no_ticket(caplog):
    store_mod.VaultStore(conf=object())  # installs the filter
    store_mod.VaultStore(conf=object())
    logger = logging.getLogger(redaction.REQUEST_LOGGER)
    assert sum(isinstance(f, redaction.TicketFilter)
               for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger=redaction.REQUEST_LOGGER):
        # Barbican's own call (barbican.api.middleware.context).
        logger.info('Processed request: %(status)s - %(method)s %(url)s',
                    {'status': '200 OK', 'method': 'GET', 'url': URL})
        logger.info('url %s', URL)
        logger.info(URL)
    assert len(caplog.records) == 3
    for record in caplog.records:
        assert TICKET not in record.getMessage()
        assert 'trans_wrapped_session_key=***' in record.getMessage()
