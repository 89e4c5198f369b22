"""moto's server mode on a free loopback port, for the Rust test harness.

Prints the port it bound on its first line, then serves until its standard input closes: the
harness holds the write end, so the server ends with the test process however that process ends.
"""

import logging
import re
import sys
import threading

from moto.server import ThreadedMotoServer
from moto.core.utils import unix_time
from moto.dynamodb.models.table import StreamShard
from moto.sqs.exceptions import InvalidParameterValue, SQSException
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


# Limits AWS documents and moto 5.2.5 does not enforce. The emulator is more forgiving than SQS, so
# without these a test could pass here with a message SQS refuses.

# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
_REFUSED_CHARACTERS = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# MessageGroupId and MessageDeduplicationId: up to 128 alphanumeric and punctuation characters.
_FIFO_ID = re.compile(r"^[!-~]{1,128}$")

_moto_send_message = SQSBackend.send_message
_moto_send_message_batch = SQSBackend.send_message_batch


class InvalidMessageContents(SQSException):
    def __init__(self, where: str) -> None:
        super().__init__("InvalidMessageContents", f"Invalid characters found in {where}.")


def _check_contents(body: str, attributes: dict) -> None:
    if _REFUSED_CHARACTERS.search(body):
        raise InvalidMessageContents("the message body")
    for name, value in (attributes or {}).items():
        if _REFUSED_CHARACTERS.search(str(value.get("StringValue") or "")):
            raise InvalidMessageContents(f"message attribute {name}")


def _size(body: str, attributes: dict) -> int:
    """SQS counts the body and each attribute's name, type and value, in bytes (moto: body characters)."""
    size = len(body.encode("utf-8"))
    for name, value in (attributes or {}).items():
        size += len(name.encode("utf-8")) + len(str(value.get("DataType", "")).encode("utf-8"))
        size += len(str(value.get("StringValue") or value.get("BinaryValue") or "").encode("utf-8"))
    return size


def _check_message(queue: Queue, body: str, attributes: dict, group_id, deduplication_id) -> None:
    _check_contents(body, attributes)
    size = _size(body, attributes)
    if size > queue.maximum_message_size:
        raise InvalidParameterValue(
            "One or more parameters are invalid. Reason: Message must be shorter than "
            f"{queue.maximum_message_size} bytes."
        )
    for name, value in (("MessageGroupId", group_id), ("MessageDeduplicationId", deduplication_id)):
        if value is not None and not _FIFO_ID.match(value):
            raise InvalidParameterValue(f"Value {value} for parameter {name} is invalid.")


def _send_message_checked(self: SQSBackend, queue_name: str, message_body: str, *args, **kwargs):
    attributes = kwargs.get("message_attributes") or (args[0] if args else None) or {}
    _check_message(
        self.get_queue(queue_name), message_body, attributes,
        kwargs.get("group_id"), kwargs.get("deduplication_id"),
    )
    return _moto_send_message(self, queue_name, message_body, *args, **kwargs)


def _send_message_batch_checked(self: SQSBackend, queue_name: str, entries: dict):
    """Every entry is checked before any is sent, as moto does for its own checks: one refused entry
    refuses the call."""
    queue = self.get_queue(queue_name)
    for entry in entries.values():
        _check_message(
            queue, entry["MessageBody"], entry.get("MessageAttributes") or {},
            entry.get("MessageGroupId"), entry.get("MessageDeduplicationId"),
        )
    return _moto_send_message_batch(self, queue_name, entries)


def patch_moto() -> None:
    Queue.delete_message = _delete_message_atomically
    SQSBackend.receive_message = _receive_message_atomically
    StreamShard.add = _add_in_sequence
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention
    SQSBackend.send_message = _send_message_checked
    SQSBackend.send_message_batch = _send_message_batch_checked


def main() -> None:
    """`emulator.py [HOST [PORT]]`: 127.0.0.1 and a free port unless told otherwise (`sam local`'s
    containers reach the host's bridge address, not its loopback)."""
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    patch_moto()
    # One line per request on stderr drowns test output; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
