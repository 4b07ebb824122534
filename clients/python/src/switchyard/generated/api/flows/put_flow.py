from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.put_flow_json_body import PutFlowJsonBody
from ...models.put_machine_result import PutMachineResult
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: File | PutFlowJsonBody | Unset = UNSET,
    dry_run: bool | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["dry_run"] = dry_run

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/spaces/{space}/flows/{name}".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    if isinstance(body, File):
        _kwargs["content"] = body.payload

        headers["Content-Type"] = "application/yaml"
    if isinstance(body, PutFlowJsonBody):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | PutMachineResult:
    if response.status_code == 200:
        response_200 = PutMachineResult.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | PutMachineResult]:
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
    body: File | PutFlowJsonBody | Unset = UNSET,
    dry_run: bool | Unset = UNSET,
) -> Response[Error | PutMachineResult]:
    """Store a flow (YAML or JSON, see docs/flows.md): a new version when it differs from the latest

    Args:
        space (str):
        name (str):
        dry_run (bool | Unset):
        body (File): The same definition as the JSON body, written as YAML
        body (PutFlowJsonBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PutMachineResult]
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
    body: File | PutFlowJsonBody | Unset = UNSET,
    dry_run: bool | Unset = UNSET,
) -> Error | PutMachineResult | None:
    """Store a flow (YAML or JSON, see docs/flows.md): a new version when it differs from the latest

    Args:
        space (str):
        name (str):
        dry_run (bool | Unset):
        body (File): The same definition as the JSON body, written as YAML
        body (PutFlowJsonBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PutMachineResult
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
    body: File | PutFlowJsonBody | Unset = UNSET,
    dry_run: bool | Unset = UNSET,
) -> Response[Error | PutMachineResult]:
    """Store a flow (YAML or JSON, see docs/flows.md): a new version when it differs from the latest

    Args:
        space (str):
        name (str):
        dry_run (bool | Unset):
        body (File): The same definition as the JSON body, written as YAML
        body (PutFlowJsonBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PutMachineResult]
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
    body: File | PutFlowJsonBody | Unset = UNSET,
    dry_run: bool | Unset = UNSET,
) -> Error | PutMachineResult | None:
    """Store a flow (YAML or JSON, see docs/flows.md): a new version when it differs from the latest

    Args:
        space (str):
        name (str):
        dry_run (bool | Unset):
        body (File): The same definition as the JSON body, written as YAML
        body (PutFlowJsonBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PutMachineResult
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
