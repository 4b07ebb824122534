from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.flow import Flow
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    version: int | Unset = UNSET,
    compiled: bool | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["version"] = version

    params["compiled"] = compiled

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/flows/{name}".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | Flow:
    if response.status_code == 200:
        response_200 = Flow.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | Flow]:
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
    version: int | Unset = UNSET,
    compiled: bool | Unset = UNSET,
) -> Response[Error | Flow]:
    """A flow (the latest version without `version`)

    Args:
        space (str):
        name (str):
        version (int | Unset):
        compiled (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Flow]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        version=version,
        compiled=compiled,
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
    version: int | Unset = UNSET,
    compiled: bool | Unset = UNSET,
) -> Error | Flow | None:
    """A flow (the latest version without `version`)

    Args:
        space (str):
        name (str):
        version (int | Unset):
        compiled (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Flow
    """

    return sync_detailed(
        space=space,
        name=name,
        client=client,
        version=version,
        compiled=compiled,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    version: int | Unset = UNSET,
    compiled: bool | Unset = UNSET,
) -> Response[Error | Flow]:
    """A flow (the latest version without `version`)

    Args:
        space (str):
        name (str):
        version (int | Unset):
        compiled (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Flow]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        version=version,
        compiled=compiled,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    version: int | Unset = UNSET,
    compiled: bool | Unset = UNSET,
) -> Error | Flow | None:
    """A flow (the latest version without `version`)

    Args:
        space (str):
        name (str):
        version (int | Unset):
        compiled (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Flow
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            version=version,
            compiled=compiled,
        )
    ).parsed
