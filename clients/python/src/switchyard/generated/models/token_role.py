from enum import Enum


class TokenRole(str, Enum):
    ADMIN = "admin"
    READER = "reader"
    WRITER = "writer"

    def __str__(self) -> str:
        return str(self.value)
