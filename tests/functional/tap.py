"""A TCP relay that records every byte it forwards (a RabbitMQ tap).

Barbican reaches RabbitMQ through it, so the test sees each AMQP frame the
Vault sent or received; stopping it is "RabbitMQ is down" for Barbican.
"""

import socket
import threading
import typing


class Tap:
    """Forwards 127.0.0.1:``port`` to ``target`` and records the bytes."""

    def __init__(self, target: typing.Tuple[str, int]) -> None:
        self.target = target
        self.captured = bytearray()
        self._lock = threading.Lock()
        self._sockets: typing.List[socket.socket] = []
        self.port = 0
        self.start()

    def start(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', self.port))
        self.port = self._listener.getsockname()[1]
        self._listener.listen(64)
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.running:
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._lock:
                    self.captured += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        """Close the listener and every relayed connection."""
        self.running = False
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self._sockets.clear()
