"""Switchyard's Python client.

``switchyard.generated`` is generated from the server's OpenAPI document (``clients/generate``):
its models (``switchyard.generated.models``) and one module per operation, by tag
(``switchyard.generated.api.instances.create_instance``…). ``Client`` and ``AsyncClient`` run
those operations with errors raised as ``SwitchyardError`` (stable ``code``, ``message``,
``details``), retries for calls safe to repeat, and a log watch that resumes after a dropped
connection.

    from switchyard import Client
    from switchyard.generated.api.instances import create_instance
    from switchyard.generated.models import CreateInstance

    with Client("http://127.0.0.1:7400", token) as sy:
        instance = sy.call(create_instance, "acme", "order", body=CreateInstance(id="o-1"))
"""

from ._client import DEFAULT_SERVER, AsyncClient, Client, new_idempotency_key
from ._errors import SwitchyardError
from ._retry import RetryPolicy

__all__ = ["AsyncClient", "Client", "DEFAULT_SERVER", "RetryPolicy", "SwitchyardError", "new_idempotency_key"]
