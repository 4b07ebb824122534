from enum import Enum


class TriggerExecutionSource(str, Enum):
    BACKFILL = "backfill"
    CATCH_UP = "catch_up"
    EVENT = "event"
    EVENTS = "events"
    MANUAL = "manual"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"

    def __str__(self) -> str:
        return str(self.value)
