from enum import Enum


class GetKeyHistoryResponse200HistoryItemOperation(str, Enum):
    DELETE = "delete"
    PUT = "put"

    def __str__(self) -> str:
        return str(self.value)
