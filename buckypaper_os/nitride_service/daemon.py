"""What every Nitride process does at start and at SIGTERM."""

import signal
import sys
import threading
import typing

from oslo_log import log as logging

from buckypaper_os import conf as bp_conf

CONF = bp_conf.CONF


def prepare(argv: typing.Optional[typing.List[str]], prog: str) -> None:
    """Parse the command line and config files; set up oslo.log."""
    logging.register_options(CONF)
    CONF(sys.argv[1:] if argv is None else argv, project='buckypaper',
         prog=prog)
    logging.setup(CONF, prog)


def wait_for_signal() -> int:
    """Block until SIGTERM or SIGINT; the signal's number."""
    received: typing.List[int] = []
    event = threading.Event()

    def handler(signum, frame):
        received.append(signum)
        event.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
    event.wait()
    return received[0]
