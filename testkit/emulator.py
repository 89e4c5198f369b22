"""moto's server mode on a free loopback port, for the Rust test harness.

Prints the port it bound on its first line, then serves until its standard input closes: the
harness holds the write end, so the server ends with the test process however that process ends.
"""

import logging
import sys
import threading

from moto.server import ThreadedMotoServer
from moto.core.utils import unix_time
from moto.dynamodb.models.table import StreamShard
from moto.sqs.models import Queue, SQSBackend

# Fixes to moto 5.2.5 (pinned in requirements.txt) for many clients at once, found by the load test.
# Each keeps moto's own code and only changes when it runs or what it recomputes.

_moto_delete_message = Queue.delete_message
_moto_receive_message = SQSBackend.receive_message
_moto_stream_add = StreamShard.add
_stream_lock = threading.Lock()


def _delete_message_atomically(self: Queue, receipt_handle: str) -> None:
    """moto deletes a message by rebuilding the queue's message list; a message another server
    thread sent meanwhile was dropped with the old list: an acknowledged event lost. Deleting under
    the lock that sending takes closes the window."""
    with self._messages_lock:
        _moto_delete_message(self, receipt_handle)


def _receive_message_atomically(self: SQSBackend, queue_name: str, *args, **kwargs):
    """moto's receive walks the queue's in-flight sets while other threads change them (a 500 to
    the caller). Under the same lock; a long poll's wait releases it, as the lock is a Condition."""
    with self.get_queue(queue_name)._messages_lock:
        return _moto_receive_message(self, queue_name, *args, **kwargs)


def _add_in_sequence(self: StreamShard, old, new) -> None:
    """moto numbers a stream record by the shard's length before appending it, so two concurrent
    writes could get the same sequence number and a reader re-read one record. One at a time."""
    with _stream_lock:
        _moto_stream_add(self, old, new)


def _within_retention(self: SQSBackend, queue_name: str, message) -> bool:
    """moto's check, without rebuilding every queue attribute (approximate counts included) for each
    message it looks at: that made ReceiveMessage quadratic in the queue's depth. Same answer."""
    retention_secs = int(self.get_queue(queue_name).message_retention_period)
    return message.sent_timestamp / 1000 + retention_secs > unix_time()


def patch_moto() -> None:
    Queue.delete_message = _delete_message_atomically
    SQSBackend.receive_message = _receive_message_atomically
    StreamShard.add = _add_in_sequence
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention


def main() -> None:
    patch_moto()
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
