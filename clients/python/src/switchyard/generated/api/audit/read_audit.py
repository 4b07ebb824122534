from http import HTTPStatus
from typing import Any

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.read_audit_response_200 import ReadAuditResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    kind: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["after"] = after

    params["limit"] = limit

    params["kind"] = kind

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/audit",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | ReadAuditResponse200:
    if response.status_code == 200:
        response_200 = ReadAuditResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | ReadAuditResponse200]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    kind: str | Unset = UNSET,
) -> Response[Error | ReadAuditResponse200]:
    """Audit records (sign-ins, tokens, principals, grants, roles) after a seq, oldest first (audit:read on
    *)

    Args:
        after (int | Unset):
        limit (int | Unset):
        kind (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ReadAuditResponse200]
    """

    kwargs = _get_kwargs(
        after=after,
        limit=limit,
        kind=kind,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    kind: str | Unset = UNSET,
) -> Error | ReadAuditResponse200 | None:
    """Audit records (sign-ins, tokens, principals, grants, roles) after a seq, oldest first (audit:read on
    *)

    Args:
        after (int | Unset):
        limit (int | Unset):
        kind (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ReadAuditResponse200
    """

    return sync_detailed(
        client=client,
        after=after,
        limit=limit,
        kind=kind,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    kind: str | Unset = UNSET,
) -> Response[Error | ReadAuditResponse200]:
    """Audit records (sign-ins, tokens, principals, grants, roles) after a seq, oldest first (audit:read on
    *)

    Args:
        after (int | Unset):
        limit (int | Unset):
        kind (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ReadAuditResponse200]
    """

    kwargs = _get_kwargs(
        after=after,
        limit=limit,
        kind=kind,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    kind: str | Unset = UNSET,
) -> Error | ReadAuditResponse200 | None:
    """Audit records (sign-ins, tokens, principals, grants, roles) after a seq, oldest first (audit:read on
    *)

    Args:
        after (int | Unset):
        limit (int | Unset):
        kind (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ReadAuditResponse200
    """

    return (
        await asyncio_detailed(
            client=client,
            after=after,
            limit=limit,
            kind=kind,
        )
    ).parsed
