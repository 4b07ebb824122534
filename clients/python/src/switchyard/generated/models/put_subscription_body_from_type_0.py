from enum import Enum


class PutSubscriptionBodyFromType0(str, Enum):
    EARLIEST = "earliest"
    NOW = "now"

    def __str__(self) -> str:
        return str(self.value)
