"""moto's server mode on a free loopback port, for the Rust test harness.

Prints the port it bound on its first line, then serves until its standard input closes: the
harness holds the write end, so the server ends with the test process however that process ends.
"""

import logging
import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    # One line per request on stderr drowns test output; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
