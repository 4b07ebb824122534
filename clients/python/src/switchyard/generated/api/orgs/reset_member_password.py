from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.reset_member_password_body import ResetMemberPasswordBody
from ...models.reset_member_password_response_200 import ResetMemberPasswordResponse200
from ...types import Response


def _get_kwargs(
    org: str,
    id: str,
    *,
    body: ResetMemberPasswordBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/orgs/{org}/members/{id}/password".format(
            org=quote(str(org), safe=""),
            id=quote(str(id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | ResetMemberPasswordResponse200:
    if response.status_code == 200:
        response_200 = ResetMemberPasswordResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | ResetMemberPasswordResponse200]:
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
    body: ResetMemberPasswordBody,
) -> Response[Error | ResetMemberPasswordResponse200]:
    """Reset a member's password: lifts a sign-in lock, ends its sessions and tokens (members:write on
    org/*:*)

    Args:
        org (str):
        id (str):
        body (ResetMemberPasswordBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ResetMemberPasswordResponse200]
    """

    kwargs = _get_kwargs(
        org=org,
        id=id,
        body=body,
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
    body: ResetMemberPasswordBody,
) -> Error | ResetMemberPasswordResponse200 | None:
    """Reset a member's password: lifts a sign-in lock, ends its sessions and tokens (members:write on
    org/*:*)

    Args:
        org (str):
        id (str):
        body (ResetMemberPasswordBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ResetMemberPasswordResponse200
    """

    return sync_detailed(
        org=org,
        id=id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    org: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ResetMemberPasswordBody,
) -> Response[Error | ResetMemberPasswordResponse200]:
    """Reset a member's password: lifts a sign-in lock, ends its sessions and tokens (members:write on
    org/*:*)

    Args:
        org (str):
        id (str):
        body (ResetMemberPasswordBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ResetMemberPasswordResponse200]
    """

    kwargs = _get_kwargs(
        org=org,
        id=id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    org: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ResetMemberPasswordBody,
) -> Error | ResetMemberPasswordResponse200 | None:
    """Reset a member's password: lifts a sign-in lock, ends its sessions and tokens (members:write on
    org/*:*)

    Args:
        org (str):
        id (str):
        body (ResetMemberPasswordBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ResetMemberPasswordResponse200
    """

    return (
        await asyncio_detailed(
            org=org,
            id=id,
            client=client,
            body=body,
        )
    ).parsed
