from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.send_event import SendEvent
from ...models.transition import Transition
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    id: str,
    *,
    body: SendEvent,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/machines/{name}/instances/{id}/events".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
            id=quote(str(id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | Transition:
    if response.status_code == 200:
        response_200 = Transition.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | Transition]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    name: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SendEvent,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Transition]:
    """Apply an event

    Args:
        space (str):
        name (str):
        id (str):
        idempotency_key (str | Unset):
        body (SendEvent):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Transition]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        id=id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    name: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SendEvent,
    idempotency_key: str | Unset = UNSET,
) -> Error | Transition | None:
    """Apply an event

    Args:
        space (str):
        name (str):
        id (str):
        idempotency_key (str | Unset):
        body (SendEvent):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Transition
    """

    return sync_detailed(
        space=space,
        name=name,
        id=id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SendEvent,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | Transition]:
    """Apply an event

    Args:
        space (str):
        name (str):
        id (str):
        idempotency_key (str | Unset):
        body (SendEvent):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Transition]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        id=id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: SendEvent,
    idempotency_key: str | Unset = UNSET,
) -> Error | Transition | None:
    """Apply an event

    Args:
        space (str):
        name (str):
        id (str):
        idempotency_key (str | Unset):
        body (SendEvent):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Transition
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            id=id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
