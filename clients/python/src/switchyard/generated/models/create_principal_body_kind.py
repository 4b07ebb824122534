from enum import Enum


class CreatePrincipalBodyKind(str, Enum):
    SERVICE = "service"
    USER = "user"

    def __str__(self) -> str:
        return str(self.value)
