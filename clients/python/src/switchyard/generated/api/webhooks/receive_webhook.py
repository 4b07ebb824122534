from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.receive_webhook_data_body import ReceiveWebhookDataBody
from ...models.receive_webhook_json_body import ReceiveWebhookJsonBody
from ...models.receive_webhook_response_202 import ReceiveWebhookResponse202
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    space: str,
    trigger: str,
    *,
    body: ReceiveWebhookJsonBody | ReceiveWebhookDataBody | File | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/hooks/{space}/{trigger}".format(
            space=quote(str(space), safe=""),
            trigger=quote(str(trigger), safe=""),
        ),
    }

    if isinstance(body, ReceiveWebhookJsonBody):
        if not isinstance(body, Unset):
            _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"
    if isinstance(body, ReceiveWebhookDataBody):
        if not isinstance(body, Unset):
            _kwargs["data"] = body.to_dict()

        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if isinstance(body, File):
        if not isinstance(body, Unset):
            _kwargs["content"] = body.payload

        headers["Content-Type"] = "application/octet-stream"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | ReceiveWebhookResponse202:
    if response.status_code == 202:
        response_202 = ReceiveWebhookResponse202.from_dict(response.json())

        return response_202

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | ReceiveWebhookResponse202]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    trigger: str,
    *,
    client: AuthenticatedClient | Client,
    body: ReceiveWebhookJsonBody | ReceiveWebhookDataBody | File | Unset = UNSET,
) -> Response[Error | ReceiveWebhookResponse202]:
    """Deliver a webhook to a trigger: no token; the trigger's verification scheme is the credential

    Args:
        space (str):
        trigger (str):
        body (ReceiveWebhookJsonBody | Unset): The provider's JSON payload
        body (ReceiveWebhookDataBody | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ReceiveWebhookResponse202]
    """

    kwargs = _get_kwargs(
        space=space,
        trigger=trigger,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    trigger: str,
    *,
    client: AuthenticatedClient | Client,
    body: ReceiveWebhookJsonBody | ReceiveWebhookDataBody | File | Unset = UNSET,
) -> Error | ReceiveWebhookResponse202 | None:
    """Deliver a webhook to a trigger: no token; the trigger's verification scheme is the credential

    Args:
        space (str):
        trigger (str):
        body (ReceiveWebhookJsonBody | Unset): The provider's JSON payload
        body (ReceiveWebhookDataBody | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ReceiveWebhookResponse202
    """

    return sync_detailed(
        space=space,
        trigger=trigger,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    space: str,
    trigger: str,
    *,
    client: AuthenticatedClient | Client,
    body: ReceiveWebhookJsonBody | ReceiveWebhookDataBody | File | Unset = UNSET,
) -> Response[Error | ReceiveWebhookResponse202]:
    """Deliver a webhook to a trigger: no token; the trigger's verification scheme is the credential

    Args:
        space (str):
        trigger (str):
        body (ReceiveWebhookJsonBody | Unset): The provider's JSON payload
        body (ReceiveWebhookDataBody | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ReceiveWebhookResponse202]
    """

    kwargs = _get_kwargs(
        space=space,
        trigger=trigger,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    trigger: str,
    *,
    client: AuthenticatedClient | Client,
    body: ReceiveWebhookJsonBody | ReceiveWebhookDataBody | File | Unset = UNSET,
) -> Error | ReceiveWebhookResponse202 | None:
    """Deliver a webhook to a trigger: no token; the trigger's verification scheme is the credential

    Args:
        space (str):
        trigger (str):
        body (ReceiveWebhookJsonBody | Unset): The provider's JSON payload
        body (ReceiveWebhookDataBody | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ReceiveWebhookResponse202
    """

    return (
        await asyncio_detailed(
            space=space,
            trigger=trigger,
            client=client,
            body=body,
        )
    ).parsed
