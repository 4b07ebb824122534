from enum import Enum


class TriggerExecutionStatus(str, Enum):
    CANCELLED = "cancelled"
    DEAD = "dead"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"

    def __str__(self) -> str:
        return str(self.value)
