from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.put_env_body import PutEnvBody
from ...models.put_env_response_200 import PutEnvResponse200
from ...models.put_env_response_201 import PutEnvResponse201
from ...types import Response


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: PutEnvBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/spaces/{space}/env/{name}".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | PutEnvResponse200 | PutEnvResponse201:
    if response.status_code == 200:
        response_200 = PutEnvResponse200.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = PutEnvResponse201.from_dict(response.json())

        return response_201

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | PutEnvResponse200 | PutEnvResponse201]:
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
    body: PutEnvBody,
) -> Response[Error | PutEnvResponse200 | PutEnvResponse201]:
    """Set an env value (any JSON, at most 64 KiB); machines and flows read it at their next step

    Args:
        space (str):
        name (str):
        body (PutEnvBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PutEnvResponse200 | PutEnvResponse201]
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
    body: PutEnvBody,
) -> Error | PutEnvResponse200 | PutEnvResponse201 | None:
    """Set an env value (any JSON, at most 64 KiB); machines and flows read it at their next step

    Args:
        space (str):
        name (str):
        body (PutEnvBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PutEnvResponse200 | PutEnvResponse201
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
    body: PutEnvBody,
) -> Response[Error | PutEnvResponse200 | PutEnvResponse201]:
    """Set an env value (any JSON, at most 64 KiB); machines and flows read it at their next step

    Args:
        space (str):
        name (str):
        body (PutEnvBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PutEnvResponse200 | PutEnvResponse201]
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
    body: PutEnvBody,
) -> Error | PutEnvResponse200 | PutEnvResponse201 | None:
    """Set an env value (any JSON, at most 64 KiB); machines and flows read it at their next step

    Args:
        space (str):
        name (str):
        body (PutEnvBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PutEnvResponse200 | PutEnvResponse201
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
        )
    ).parsed
