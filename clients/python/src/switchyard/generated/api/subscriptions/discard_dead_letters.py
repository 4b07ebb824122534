from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.discard_dead_letters_body import DiscardDeadLettersBody
from ...models.discard_dead_letters_response_200 import DiscardDeadLettersResponse200
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: DiscardDeadLettersBody | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/subscriptions/{name}/dead-letters/discard".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
    }

    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DiscardDeadLettersResponse200 | Error:
    if response.status_code == 200:
        response_200 = DiscardDeadLettersResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DiscardDeadLettersResponse200 | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DiscardDeadLettersBody | Unset = UNSET,
) -> Response[DiscardDeadLettersResponse200 | Error]:
    """Forget dead letters (all, or the seqs named)

    Args:
        space (str):
        name (str):
        body (DiscardDeadLettersBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DiscardDeadLettersResponse200 | Error]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DiscardDeadLettersBody | Unset = UNSET,
) -> DiscardDeadLettersResponse200 | Error | None:
    """Forget dead letters (all, or the seqs named)

    Args:
        space (str):
        name (str):
        body (DiscardDeadLettersBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DiscardDeadLettersResponse200 | Error
    """

    return sync_detailed(
        space=space,
        name=name,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DiscardDeadLettersBody | Unset = UNSET,
) -> Response[DiscardDeadLettersResponse200 | Error]:
    """Forget dead letters (all, or the seqs named)

    Args:
        space (str):
        name (str):
        body (DiscardDeadLettersBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DiscardDeadLettersResponse200 | Error]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DiscardDeadLettersBody | Unset = UNSET,
) -> DiscardDeadLettersResponse200 | Error | None:
    """Forget dead letters (all, or the seqs named)

    Args:
        space (str):
        name (str):
        body (DiscardDeadLettersBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DiscardDeadLettersResponse200 | Error
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
        )
    ).parsed
