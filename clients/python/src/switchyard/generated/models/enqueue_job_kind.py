from enum import Enum


class EnqueueJobKind(str, Enum):
    EVENT = "event"
    FUNCTION = "function"
    HTTP = "http"
    NOOP = "noop"
    PUBLISH = "publish"

    def __str__(self) -> str:
        return str(self.value)
