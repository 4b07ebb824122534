from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.put_key_if_none_match import PutKeyIfNoneMatch
from ...models.put_key_response_200 import PutKeyResponse200
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    space: str,
    bucket: str,
    key: str,
    *,
    body: File | Unset = UNSET,
    ttl: str | Unset = UNSET,
    if_match: str | Unset = UNSET,
    if_none_match: PutKeyIfNoneMatch | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = str(if_none_match)

    params: dict[str, Any] = {}

    params["ttl"] = ttl

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/spaces/{space}/kv/{bucket}/keys/{key}".format(
            space=quote(str(space), safe=""),
            bucket=quote(str(bucket), safe=""),
            key=quote(str(key), safe=""),
        ),
        "params": params,
    }

    if not isinstance(body, Unset):
        _kwargs["content"] = body.payload

    headers["Content-Type"] = "application/octet-stream"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | PutKeyResponse200:
    if response.status_code == 200:
        response_200 = PutKeyResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | PutKeyResponse200]:
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
    body: File | Unset = UNSET,
    ttl: str | Unset = UNSET,
    if_match: str | Unset = UNSET,
    if_none_match: PutKeyIfNoneMatch | Unset = UNSET,
) -> Response[Error | PutKeyResponse200]:
    r"""Write a key (the body is the value; If-Match: \"<revision>\" for compare-and-set, If-None-Match: *
    to create only)

    Args:
        space (str):
        bucket (str):
        key (str):
        ttl (str | Unset):
        if_match (str | Unset):
        if_none_match (PutKeyIfNoneMatch | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PutKeyResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        key=key,
        body=body,
        ttl=ttl,
        if_match=if_match,
        if_none_match=if_none_match,
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
    body: File | Unset = UNSET,
    ttl: str | Unset = UNSET,
    if_match: str | Unset = UNSET,
    if_none_match: PutKeyIfNoneMatch | Unset = UNSET,
) -> Error | PutKeyResponse200 | None:
    r"""Write a key (the body is the value; If-Match: \"<revision>\" for compare-and-set, If-None-Match: *
    to create only)

    Args:
        space (str):
        bucket (str):
        key (str):
        ttl (str | Unset):
        if_match (str | Unset):
        if_none_match (PutKeyIfNoneMatch | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PutKeyResponse200
    """

    return sync_detailed(
        space=space,
        bucket=bucket,
        key=key,
        client=client,
        body=body,
        ttl=ttl,
        if_match=if_match,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    body: File | Unset = UNSET,
    ttl: str | Unset = UNSET,
    if_match: str | Unset = UNSET,
    if_none_match: PutKeyIfNoneMatch | Unset = UNSET,
) -> Response[Error | PutKeyResponse200]:
    r"""Write a key (the body is the value; If-Match: \"<revision>\" for compare-and-set, If-None-Match: *
    to create only)

    Args:
        space (str):
        bucket (str):
        key (str):
        ttl (str | Unset):
        if_match (str | Unset):
        if_none_match (PutKeyIfNoneMatch | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PutKeyResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        key=key,
        body=body,
        ttl=ttl,
        if_match=if_match,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    body: File | Unset = UNSET,
    ttl: str | Unset = UNSET,
    if_match: str | Unset = UNSET,
    if_none_match: PutKeyIfNoneMatch | Unset = UNSET,
) -> Error | PutKeyResponse200 | None:
    r"""Write a key (the body is the value; If-Match: \"<revision>\" for compare-and-set, If-None-Match: *
    to create only)

    Args:
        space (str):
        bucket (str):
        key (str):
        ttl (str | Unset):
        if_match (str | Unset):
        if_none_match (PutKeyIfNoneMatch | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PutKeyResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            bucket=bucket,
            key=key,
            client=client,
            body=body,
            ttl=ttl,
            if_match=if_match,
            if_none_match=if_none_match,
        )
    ).parsed
