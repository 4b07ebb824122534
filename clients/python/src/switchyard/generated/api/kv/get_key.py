from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...types import File, Response


def _get_kwargs(
    space: str,
    bucket: str,
    key: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/kv/{bucket}/keys/{key}".format(
            space=quote(str(space), safe=""),
            bucket=quote(str(bucket), safe=""),
            key=quote(str(key), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | File:
    if response.status_code == 200:
        response_200 = File(payload=BytesIO(response.content))

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | File]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Error | File]:
    """A key's value (the raw bytes, with their Content-Type; ETag is the revision)

    Args:
        space (str):
        bucket (str):
        key (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | File]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        key=key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
) -> Error | File | None:
    """A key's value (the raw bytes, with their Content-Type; ETag is the revision)

    Args:
        space (str):
        bucket (str):
        key (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | File
    """

    return sync_detailed(
        space=space,
        bucket=bucket,
        key=key,
        client=client,
    ).parsed


async def asyncio_detailed(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Error | File]:
    """A key's value (the raw bytes, with their Content-Type; ETag is the revision)

    Args:
        space (str):
        bucket (str):
        key (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | File]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        key=key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
) -> Error | File | None:
    """A key's value (the raw bytes, with their Content-Type; ETag is the revision)

    Args:
        space (str):
        bucket (str):
        key (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | File
    """

    return (
        await asyncio_detailed(
            space=space,
            bucket=bucket,
            key=key,
            client=client,
        )
    ).parsed
