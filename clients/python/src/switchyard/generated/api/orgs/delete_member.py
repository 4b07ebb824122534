from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.delete_member_response_200 import DeleteMemberResponse200
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    org: str,
    id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/v1/orgs/{org}/members/{id}".format(
            org=quote(str(org), safe=""),
            id=quote(str(id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeleteMemberResponse200 | Error:
    if response.status_code == 200:
        response_200 = DeleteMemberResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DeleteMemberResponse200 | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    org: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[DeleteMemberResponse200 | Error]:
    """Delete a member of the org: its grants go, its tokens are revoked (members:write on org/*:*)

    Args:
        org (str):
        id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeleteMemberResponse200 | Error]
    """

    kwargs = _get_kwargs(
        org=org,
        id=id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    org: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
) -> DeleteMemberResponse200 | Error | None:
    """Delete a member of the org: its grants go, its tokens are revoked (members:write on org/*:*)

    Args:
        org (str):
        id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeleteMemberResponse200 | Error
    """

    return sync_detailed(
        org=org,
        id=id,
        client=client,
    ).parsed


async def asyncio_detailed(
    org: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[DeleteMemberResponse200 | Error]:
    """Delete a member of the org: its grants go, its tokens are revoked (members:write on org/*:*)

    Args:
        org (str):
        id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeleteMemberResponse200 | Error]
    """

    kwargs = _get_kwargs(
        org=org,
        id=id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    org: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
) -> DeleteMemberResponse200 | Error | None:
    """Delete a member of the org: its grants go, its tokens are revoked (members:write on org/*:*)

    Args:
        org (str):
        id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeleteMemberResponse200 | Error
    """

    return (
        await asyncio_detailed(
            org=org,
            id=id,
            client=client,
        )
    ).parsed
