"""moto's server mode on a free loopback port, for the Rust test harness.

Prints the port it bound on its first line, then serves until its standard input closes: the
harness holds the write end, so the server ends with the test process however that process ends.
"""

import logging
import os
import re
import sys
import threading

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer
from moto.core.utils import unix_time
from moto.dynamodb.models.table import StreamShard
from moto.secretsmanager.models import SecretsManagerBackend
import time
import uuid

from moto.core.responses import ActionResult
from moto.sqs.exceptions import InvalidParameterValue, QueueDoesNotExist, SQSException
from moto.sqs.models import Queue, SQSBackend
from moto.sqs.responses import SQSResponse

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


# SQS's DLQ redrive (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask), which moto
# 5.2.5 lacks. As SQS documents: the source must be another queue's dead-letter queue; without a
# destination, messages go back to that queue; one task at a time per source. A task here moves
# everything at once and is then COMPLETED (SQS moves at a rate, then completes).
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html

_move_tasks: dict[str, list[dict]] = {}


class ResourceNotFound(SQSException):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


def _queue_by_arn(backend: SQSBackend, arn: str) -> Queue:
    for queue in backend.queues.values():
        if queue.queue_arn == arn:
            return queue
    raise QueueDoesNotExist()


def _start_message_move_task(self: SQSResponse) -> ActionResult:
    backend = self.sqs_backend
    source = _queue_by_arn(backend, self._get_param("SourceArn"))
    sources = backend.list_dead_letter_source_queues(source.name)
    if not sources:
        raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
    destination_arn = self._get_param("DestinationArn")
    if destination_arn:
        destination = _queue_by_arn(backend, destination_arn)
    elif len(sources) == 1:
        destination = sources[0]
    else:
        raise InvalidParameterValue("This emulator moves to one source queue: give DestinationArn.")
    with source._messages_lock:
        messages = list(source._messages)
        for message in messages:
            backend.send_message(
                destination.name, message.body, message_attributes=message.message_attributes,
                deduplication_id=message.deduplication_id, group_id=message.group_id,
            )
            source._messages.remove(message)
    handle = str(uuid.uuid4())
    _move_tasks.setdefault(source.queue_arn, []).insert(0, {
        "TaskHandle": handle, "Status": "COMPLETED", "SourceArn": source.queue_arn,
        "DestinationArn": destination.queue_arn, "ApproximateNumberOfMessagesMoved": len(messages),
        "ApproximateNumberOfMessagesToMove": len(messages), "StartedTimestamp": int(time.time() * 1000),
    })
    return ActionResult({"TaskHandle": handle})


def _list_message_move_tasks(self: SQSResponse) -> ActionResult:
    source_arn = self._get_param("SourceArn")
    _queue_by_arn(self.sqs_backend, source_arn)
    limit = int(self._get_param("MaxResults") or 1)
    results = [dict(task) for task in _move_tasks.get(source_arn, [])[:limit]]
    for task in results:
        if task["Status"] != "RUNNING":
            task.pop("TaskHandle")
    return ActionResult({"Results": results})


def _cancel_message_move_task(self: SQSResponse) -> ActionResult:
    handle = self._get_param("TaskHandle")
    for tasks in _move_tasks.values():
        for task in tasks:
            if task["TaskHandle"] == handle and task["Status"] == "RUNNING":
                task["Status"] = "CANCELLING"
                return ActionResult({"ApproximateNumberOfMessagesMoved": task["ApproximateNumberOfMessagesMoved"]})
    raise ResourceNotFound("Task does not exist, or is not running.")


# Secrets Manager: moving the AWSCURRENT label (UpdateSecretVersionStage) leaves moto's GetSecretValue
# on the previous version, which AWS never does: GetSecretValue without a version reads AWSCURRENT.
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html

_moto_update_secret_version_stage = SecretsManagerBackend.update_secret_version_stage


def _update_secret_version_stage_current(self: SecretsManagerBackend, secret_id: str, version_stage: str,
                                         remove_from_version_id: str, move_to_version_id: str):
    answer = _moto_update_secret_version_stage(
        self, secret_id, version_stage, remove_from_version_id, move_to_version_id
    )
    if version_stage == "AWSCURRENT" and move_to_version_id:
        self.secrets[secret_id].set_default_version_id(move_to_version_id)
    return answer


def patch_moto() -> None:
    SecretsManagerBackend.update_secret_version_stage = _update_secret_version_stage_current
    SQSResponse.start_message_move_task = _start_message_move_task
    SQSResponse.list_message_move_tasks = _list_message_move_tasks
    SQSResponse.cancel_message_move_task = _cancel_message_move_task
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
    # Step Functions executions run (a `.waitForTaskToken` task sends its message, SendTaskSuccess ends
    # it), their service calls made to this server: the interpreter reaches it at localhost:MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    print(port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
