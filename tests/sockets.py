"""Raw socket helpers of the HTTP-level tests."""

import socket


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the peer sends until it closes the connection."""
    answer = b''
    while True:
        part = connection.recv(65536)
        if not part:
            return answer
        answer += part
