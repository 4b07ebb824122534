from enum import Enum


class LogLineLevel(str, Enum):
    DEBUG = "debug"
    ERROR = "error"
    INFO = "info"
    TRACE = "trace"
    WARN = "warn"

    def __str__(self) -> str:
        return str(self.value)
