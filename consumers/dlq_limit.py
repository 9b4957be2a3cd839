"""Stop instead of emptying a topic into the DLQ (arroyo's ``DlqLimit`` idea).

A bad deploy, a schema mistake or a broken dependency can make every message look invalid; the
worker would then dead-letter the whole topic and commit past it. When more than ``max_share`` of
the last ``window`` messages would go to the DLQ (once at least ``min_messages`` were seen), the
worker stops with one clear error before sending those letters: nothing of that batch is
committed, so after the fix a restart reads it again (dedupe drops what was stored meanwhile).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from consumers.errors import WorkerError


class DlqLimitExceeded(WorkerError):
    """Too large a share of recent messages would go to the DLQ: stop the worker."""


@dataclass
class DlqLimit:
    max_share: float  # FEEDBACK_DLQ_MAX_SHARE; 1 or more turns the limit off
    window: int  # FEEDBACK_DLQ_WINDOW: how many recent messages the share is taken over
    min_messages: int  # FEEDBACK_DLQ_MIN_MESSAGES: no verdict on fewer messages than this
    # [messages, letters] per batch, oldest first, covering at least the last ``window`` messages
    _batches: deque[list[int]] = field(default_factory=deque)

    def consumed(self, messages: int) -> None:
        """A new batch of ``messages`` starts."""
        self._batches.append([messages, 0])
        total = sum(batch[0] for batch in self._batches)
        while len(self._batches) > 1 and total - self._batches[0][0] >= self.window:
            total -= self._batches.popleft()[0]

    def check(self, letters: int) -> None:
        """Count ``letters`` about to be sent for the current batch; raise when over the limit."""
        if not letters or not self._batches or self.max_share >= 1:
            return
        messages = sum(batch[0] for batch in self._batches)
        sent = sum(batch[1] for batch in self._batches) + letters
        if messages >= self.min_messages and sent > self.max_share * messages:
            raise DlqLimitExceeded(
                f"{sent} of the last {messages} messages would go to the DLQ, more than "
                f"FEEDBACK_DLQ_MAX_SHARE={self.max_share:g}: stopping instead of dead-lettering the topic "
                "(nothing of this batch is committed; fix the cause, then restart the worker)"
            )
        self._batches[-1][1] += letters
