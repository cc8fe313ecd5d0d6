"""The guest API's development server under a burst of connections."""

import socket

from buckypaper_os.nitride_service.api import server as server_mod

#: Guests that connect at once while the server is busy (not accepting).
BURST = 200


def test_a_burst_of_guests_is_queued_not_refused():
    server = server_mod.make_server('127.0.0.1', 0, lambda env, start: [])
    clients = []
    try:
        for _ in range(BURST):
            client = socket.socket()
            client.settimeout(0.5)
            client.connect(server.server_address)  # times out if dropped
            clients.append(client)
    finally:
        for client in clients:
            client.close()
        server.server_close()
    assert len(clients) == BURST
