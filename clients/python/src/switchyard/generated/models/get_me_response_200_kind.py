from enum import Enum


class GetMeResponse200Kind(str, Enum):
    SERVICE = "service"
    TOKEN = "token"
    USER = "user"

    def __str__(self) -> str:
        return str(self.value)
