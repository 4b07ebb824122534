"""The README tour through the Python client, against the real server: a machine, an instance,
events with an idempotency key, history, a watch that resumes across a server restart, KV with
compare-and-set, a topic and a durable subscription, the hello function, and a typed error."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading

import pytest

from switchyard import AsyncClient, Client, SwitchyardError, new_idempotency_key
from switchyard.generated.api.events import apply_event
from switchyard.generated.api.functions import deploy_function, invoke_function
from switchyard.generated.api.instances import create_instance, get_instance, get_instance_history
from switchyard.generated.api.kv import get_key, put_key
from switchyard.generated.api.machines import put_machine
from switchyard.generated.api.subscriptions import ack_deliveries, pull_deliveries, put_subscription
from switchyard.generated.api.topics import publish_message
from switchyard.generated.models import (
    AckDeliveriesBody,
    CreateInstance,
    Definition,
    DeployFunction,
    PublishMessageBody,
    PutSubscriptionBody,
    SendEvent,
    SendEventPayload,
)
from switchyard.generated.types import File

ORDER = {
    "initial": "pending",
    "states": {"pending": {}, "paid": {}, "shipped": {"final": True}},
    "transitions": [
        {"from": "pending", "event": "pay", "to": "paid"},
        {"from": "paid", "event": "ship", "to": "shipped"},
    ],
}


def test_the_tour(server, hello_wasm):
    sy = Client(server.url, server.token, backoff=0.05)
    sy.call(put_machine, "acme", "order", body=Definition.from_dict(ORDER))
    created = sy.call(create_instance, "acme", "order", body=CreateInstance(id="o-1"))
    assert created.id == "o-1" and created.state == "pending"

    # An event with an idempotency key: its repeat answers the original and applies nothing.
    key = new_idempotency_key()
    pay = SendEvent(event="pay", payload=SendEventPayload.from_dict({"amount": 120}))
    first = sy.call(apply_event, "acme", "order", "o-1", body=pay, idempotency_key=key)
    again = sy.call(apply_event, "acme", "order", "o-1", body=pay, idempotency_key=key)
    assert (first.to, again.to, again.revision, again.seq) == ("paid", "paid", first.revision, first.seq)

    history = sy.call(get_instance_history, "acme", "order", "o-1")
    kinds = [record.kind for record in history.events]
    assert kinds == ["instance.created", "instance.transitioned"], kinds

    # A typed error: the code is the documented one.
    with pytest.raises(SwitchyardError) as refused:
        sy.call(apply_event, "acme", "order", "o-1", body=SendEvent(event="pay"))
    assert (refused.value.status, refused.value.code) == (409, "invalid_transition")
    with pytest.raises(SwitchyardError) as missing:
        sy.call(get_instance, "acme", "order", "o-404")
    assert missing.value.code == "instance_not_found"

    # KV with compare-and-set: a write naming an old revision is refused.
    written = sy.call(put_key, "acme", "config", "db/url", body=File(payload=io.BytesIO(b"postgres://db-1")))
    sy.call(put_key, "acme", "config", "db/url", body=File(payload=io.BytesIO(b"postgres://db-2")), if_match=f'"{written.revision}"')
    with pytest.raises(SwitchyardError) as conflict:
        sy.call(put_key, "acme", "config", "db/url", body=File(payload=io.BytesIO(b"x")), if_match=f'"{written.revision}"')
    assert conflict.value.code == "conflict"
    value = sy.call(get_key, "acme", "config", "db/url")
    assert value.payload.read() == b"postgres://db-2"

    # A topic and a durable subscription: pull, ack, nothing left.
    sy.call(put_subscription, "acme", "mail", body=PutSubscriptionBody(address="acme:mail", kind="topic.message", from_=0))
    for n in range(3):
        sy.call(publish_message, "acme", "mail", body=PublishMessageBody(payload={"n": n}))
    pulled = sy.call(pull_deliveries, "acme", "mail", max_=10)
    assert [r.payload["payload"]["n"] for r in pulled.records] == [0, 1, 2]
    acked = sy.call(ack_deliveries, "acme", "mail", body=AckDeliveriesBody(seqs=[r.seq for r in pulled.records]))
    assert acked.acked == 3
    assert sy.call(pull_deliveries, "acme", "mail", max_=10, wait="0s").records == []

    # The hello function.
    body = DeployFunction(component_base64=base64.b64encode(hello_wasm).decode())
    deployed = sy.call(deploy_function, "acme", "hello", body=body)
    assert deployed.version == 1
    output = sy.call(invoke_function, "acme", "hello", body=File(payload=io.BytesIO(b'{"name": "Ada"}')))
    assert json.loads(output.payload.read()) == {"greeting": "Hello, Ada!"}
    sy.close()


def test_a_watch_resumes_across_a_server_restart(server):
    sy = Client(server.url, server.token, backoff=0.05, max_backoff=0.5)
    sy.call(put_machine, "acme", "order", body=Definition.from_dict(ORDER))
    seen: list[dict] = []
    done = threading.Event()

    def follow() -> None:
        for record in sy.watch("acme", start=1, kind=["instance.created"]):
            seen.append(record)
            if len(seen) == 4:
                done.set()
                return

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    for n in range(2):
        sy.call(create_instance, "acme", "order", body=CreateInstance(id=f"before-{n}"))
    for _ in range(200):
        if len(seen) == 2:
            break
        threading.Event().wait(0.05)
    assert len(seen) == 2, seen
    server.restart()
    # The client's calls retry while the server comes back; the watch reconnects after the last
    # record it saw.
    for n in range(2):
        sy.call(create_instance, "acme", "order", body=CreateInstance(id=f"after-{n}"))
    assert done.wait(60), seen
    ids = [record["address"].rsplit(":", 1)[1] for record in seen]
    assert ids == ["before-0", "before-1", "after-0", "after-1"], ids
    seqs = [record["seq"] for record in seen]
    assert seqs == sorted(set(seqs)), "a record was repeated or reordered"


def test_the_asyncio_client_calls_and_watches(server):
    async def tour() -> None:
        async with AsyncClient(server.url, server.token) as sy:
            await sy.call(put_machine, "acme", "order", body=Definition.from_dict(ORDER))
            await sy.call(create_instance, "acme", "order", body=CreateInstance(id="a-1"))
            with pytest.raises(SwitchyardError) as refused:
                await sy.call(create_instance, "acme", "order", body=CreateInstance(id="a-1"))
            assert refused.value.code == "instance_exists"
            records = []
            async for record in sy.watch("acme", start=1, kind="instance.created"):
                records.append(record)
                break
            assert records[0]["address"] == "acme:order:a-1"

    asyncio.run(tour())
