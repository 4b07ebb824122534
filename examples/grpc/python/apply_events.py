#!/usr/bin/env python3
"""Applies events to a Switchyard server over gRPC, with stubs generated from proto/.

Generate the stubs first (grpcio-tools from PyPI):

    python -m grpc_tools.protoc -I proto --python_out=gen --grpc_python_out=gen \
        proto/switchyard/v1/switchyard.proto

then run, with the generated directory on the path:

    PYTHONPATH=gen python examples/grpc/python/apply_events.py \
        --server 127.0.0.1:7400 --token "$SWITCHYARD_TOKEN" --instances 10 --events 20

It puts a counter machine, creates the instances, sends every event on one ApplyEvents
stream (all in flight at once, each with its own correlation id and idempotency key), checks
each is answered once and in order per instance, sends one more event with ApplyEvent, and
prints a JSON summary.
"""

import argparse
import json
import sys

import grpc

from switchyard.v1 import switchyard_pb2 as pb
from switchyard.v1 import switchyard_pb2_grpc as rpc

MACHINE = {
    "name": "py-counter",
    "initial": "counting",
    "states": ["counting"],
    "transitions": [
        {
            "from": "counting",
            "event": "add",
            "to": "counting",
            "guard": "event.i == ctx.count",
            "assign": {"count": "ctx.count + 1"},
        }
    ],
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="host:port of the server (plain text)")
    parser.add_argument("--token", required=True)
    parser.add_argument("--space", default="python")
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--events", type=int, default=20, help="events per instance")
    args = parser.parse_args()

    channel = grpc.insecure_channel(args.server)
    auth = [("authorization", f"Bearer {args.token}")]
    machines = rpc.MachinesStub(channel)
    instances = rpc.InstancesStub(channel)
    events = rpc.EventsStub(channel)

    machines.PutMachine(
        pb.PutMachineRequest(space=args.space, name=MACHINE["name"], definition=json.dumps(MACHINE)),
        metadata=auth,
    )
    ids = [f"p{n}" for n in range(args.instances)]
    for id in ids:
        instances.CreateInstance(
            pb.CreateInstanceRequest(
                space=args.space, machine=MACHINE["name"], id=id, ctx_json='{"count": 0}', idempotency_key=f"create-{id}"
            ),
            metadata=auth,
        )

    def requests():
        for i in range(args.events):
            for m, id in enumerate(ids):
                yield pb.ApplyEventsRequest(
                    correlation_id=m * args.events + i,
                    event=pb.ApplyEventRequest(
                        space=args.space,
                        machine=MACHINE["name"],
                        instance=id,
                        event="add",
                        payload_json=json.dumps({"i": i}),
                        idempotency_key=f"add-{id}-{i}",
                    ),
                )

    answered = {}
    last_revision = {}
    for answer in events.ApplyEvents(requests(), metadata=auth):
        if answer.WhichOneof("result") != "applied":
            sys.exit(f"event {answer.correlation_id} refused: {answer.error.code}: {answer.error.message}")
        if answer.correlation_id in answered:
            sys.exit(f"event {answer.correlation_id} answered twice")
        revision = answer.applied.transition.revision
        instance = answer.correlation_id // args.events
        if revision != last_revision.get(instance, 1) + 1:
            sys.exit(f"instance {instance} answered out of order")
        last_revision[instance] = revision
        answered[answer.correlation_id] = answer.applied.transition.seq

    # One more, unary; a refusal arrives as a status with the stable code in the trailer.
    one = events.ApplyEvent(
        pb.ApplyEventRequest(
            space=args.space, machine=MACHINE["name"], instance=ids[0], event="add",
            payload_json=json.dumps({"i": args.events}),
        ),
        metadata=auth,
    )
    try:
        events.ApplyEvent(
            pb.ApplyEventRequest(space=args.space, machine=MACHINE["name"], instance=ids[0], event="add",
                                 payload_json='{"i": 0}'),
            metadata=auth,
        )
        sys.exit("an out-of-order event was applied")
    except grpc.RpcError as e:
        trailers = dict(e.trailing_metadata() or ())
        refused = {"status": e.code().name, "code": trailers.get("switchyard-error-code")}

    final = instances.GetInstance(
        pb.GetInstanceRequest(space=args.space, machine=MACHINE["name"], id=ids[0]), metadata=auth
    )
    print(json.dumps({
        "answered": len(answered),
        "last_revision": one.transition.revision,
        "count": json.loads(final.ctx_json)["count"],
        "refused": refused,
    }))


if __name__ == "__main__":
    main()
