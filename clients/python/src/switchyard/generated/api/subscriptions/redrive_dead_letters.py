from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.redrive_dead_letters_body import RedriveDeadLettersBody
from ...models.redrive_dead_letters_response_200 import RedriveDeadLettersResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: RedriveDeadLettersBody | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/subscriptions/{name}/dead-letters/redrive".format(
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
) -> Error | RedriveDeadLettersResponse200:
    if response.status_code == 200:
        response_200 = RedriveDeadLettersResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | RedriveDeadLettersResponse200]:
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
    body: RedriveDeadLettersBody | Unset = UNSET,
) -> Response[Error | RedriveDeadLettersResponse200]:
    """Make dead letters deliverable again (all, or the seqs named)

    Args:
        space (str):
        name (str):
        body (RedriveDeadLettersBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RedriveDeadLettersResponse200]
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
    body: RedriveDeadLettersBody | Unset = UNSET,
) -> Error | RedriveDeadLettersResponse200 | None:
    """Make dead letters deliverable again (all, or the seqs named)

    Args:
        space (str):
        name (str):
        body (RedriveDeadLettersBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RedriveDeadLettersResponse200
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
    body: RedriveDeadLettersBody | Unset = UNSET,
) -> Response[Error | RedriveDeadLettersResponse200]:
    """Make dead letters deliverable again (all, or the seqs named)

    Args:
        space (str):
        name (str):
        body (RedriveDeadLettersBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RedriveDeadLettersResponse200]
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
    body: RedriveDeadLettersBody | Unset = UNSET,
) -> Error | RedriveDeadLettersResponse200 | None:
    """Make dead letters deliverable again (all, or the seqs named)

    Args:
        space (str):
        name (str):
        body (RedriveDeadLettersBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RedriveDeadLettersResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
        )
    ).parsed
