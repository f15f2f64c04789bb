"""The durable ingestion flow: producers, queue, worker, retry scheme, ledger and watcher.

::

    publish()/obsarchive publish/obsarchive watch ──> queue (embedded table queue in SQLite
        by default, or RabbitMQ) ──> obsarchive worker ──> ingester ──> science archive
                                            │
                                            └──> ingestion ledger (one row per message)

See :mod:`~obsarchive.ingester.flow.messages` for the message format,
:mod:`~obsarchive.ingester.flow.retry` for the retry scheme and
:mod:`~obsarchive.ingester.flow.ledger` for the ledger's statuses.
"""

from obsarchive.ingester.flow.errors import (
    FlowConfigurationError,
    FlowError,
    LedgerError,
    MessageError,
    QueueError,
    QueueUnavailableError,
)
from obsarchive.ingester.flow.ledger import Ledger, LedgerEntry, Status
from obsarchive.ingester.flow.messages import SCHEMA_VERSION, Message
from obsarchive.ingester.flow.publish import Publisher, publish
from obsarchive.ingester.flow.queues import (
    DeadLetter,
    Delivery,
    IngestQueue,
    QueueDepth,
    TableQueue,
    open_queue,
)
from obsarchive.ingester.flow.retry import Action, Decision, RetryPolicy
from obsarchive.ingester.flow.watch import Watcher
from obsarchive.ingester.flow.worker import IngestFunction, Worker, WorkerStats

__all__ = [
    "SCHEMA_VERSION",
    "Action",
    "DeadLetter",
    "Decision",
    "Delivery",
    "FlowConfigurationError",
    "FlowError",
    "IngestFunction",
    "IngestQueue",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "Message",
    "MessageError",
    "Publisher",
    "QueueDepth",
    "QueueError",
    "QueueUnavailableError",
    "RetryPolicy",
    "Status",
    "TableQueue",
    "Watcher",
    "Worker",
    "WorkerStats",
    "open_queue",
    "publish",
]
