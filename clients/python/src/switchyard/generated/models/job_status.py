from enum import Enum


class JobStatus(str, Enum):
    CANCELLED = "cancelled"
    DEAD = "dead"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"

    def __str__(self) -> str:
        return str(self.value)
