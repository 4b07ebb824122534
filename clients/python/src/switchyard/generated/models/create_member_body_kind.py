from enum import Enum


class CreateMemberBodyKind(str, Enum):
    SERVICE = "service"
    USER = "user"

    def __str__(self) -> str:
        return str(self.value)
