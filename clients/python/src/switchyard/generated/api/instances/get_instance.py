from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.instance import Instance
from ...types import Response


def _get_kwargs(
    space: str,
    name: str,
    id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/machines/{name}/instances/{id}".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
            id=quote(str(id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | Instance:
    if response.status_code == 200:
        response_200 = Instance.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | Instance]:
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
) -> Response[Error | Instance]:
    """An instance

    Args:
        space (str):
        name (str):
        id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Instance]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        id=id,
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
) -> Error | Instance | None:
    """An instance

    Args:
        space (str):
        name (str):
        id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Instance
    """

    return sync_detailed(
        space=space,
        name=name,
        id=id,
        client=client,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Error | Instance]:
    """An instance

    Args:
        space (str):
        name (str):
        id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Instance]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        id=id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Error | Instance | None:
    """An instance

    Args:
        space (str):
        name (str):
        id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Instance
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            id=id,
            client=client,
        )
    ).parsed
