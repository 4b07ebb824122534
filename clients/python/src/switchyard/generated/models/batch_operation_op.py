from enum import Enum


class BatchOperationOp(str, Enum):
    APPLY_EVENT = "apply_event"
    CREATE_INSTANCE = "create_instance"
    DELETE_INSTANCE = "delete_instance"

    def __str__(self) -> str:
        return str(self.value)
