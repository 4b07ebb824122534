from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.deploy_function import DeployFunction
from ...models.error import Error
from ...models.function import Function
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: DeployFunction,
    dry_run: bool | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["dry_run"] = dry_run

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/spaces/{space}/functions/{name}".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | Function:
    if response.status_code == 200:
        response_200 = Function.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = Function.from_dict(response.json())

        return response_201

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | Function]:
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
    body: DeployFunction,
    dry_run: bool | Unset = UNSET,
) -> Response[Error | Function]:
    """Deploy a function: a new version unless the latest has the same component and settings

    Args:
        space (str):
        name (str):
        dry_run (bool | Unset):
        body (DeployFunction):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Function]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
        dry_run=dry_run,
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
    body: DeployFunction,
    dry_run: bool | Unset = UNSET,
) -> Error | Function | None:
    """Deploy a function: a new version unless the latest has the same component and settings

    Args:
        space (str):
        name (str):
        dry_run (bool | Unset):
        body (DeployFunction):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Function
    """

    return sync_detailed(
        space=space,
        name=name,
        client=client,
        body=body,
        dry_run=dry_run,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DeployFunction,
    dry_run: bool | Unset = UNSET,
) -> Response[Error | Function]:
    """Deploy a function: a new version unless the latest has the same component and settings

    Args:
        space (str):
        name (str):
        dry_run (bool | Unset):
        body (DeployFunction):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Function]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
        dry_run=dry_run,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DeployFunction,
    dry_run: bool | Unset = UNSET,
) -> Error | Function | None:
    """Deploy a function: a new version unless the latest has the same component and settings

    Args:
        space (str):
        name (str):
        dry_run (bool | Unset):
        body (DeployFunction):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Function
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
            dry_run=dry_run,
        )
    ).parsed
