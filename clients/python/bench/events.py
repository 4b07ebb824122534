"""Events a second through the Python client: THREADS threads share one ``Client`` (one
keep-alive connection pool), each applying events to its own instances of a 5-state cycle, as
``switchyard bench events`` does. Prints throughput and the client's own CPU time per call.

    SWITCHYARD_SERVER=http://127.0.0.1:7400 SWITCHYARD_TOKEN=... \\
        PYTHONPATH=clients/python/src python clients/python/bench/events.py [THREADS] [EVENTS]
"""

from __future__ import annotations

import os
import sys
import threading
import time

from switchyard import Client
from switchyard.generated.api.events import apply_event
from switchyard.generated.api.instances import create_instance
from switchyard.generated.api.machines import put_machine
from switchyard.generated.models import CreateInstance, Definition, SendEvent

STATES = ["s0", "s1", "s2", "s3", "s4"]
CYCLE = {
    "initial": "s0",
    "states": {s: {} for s in STATES},
    "transitions": [{"from": s, "event": "next", "to": STATES[(i + 1) % 5]} for i, s in enumerate(STATES)],
}


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    server = os.environ.get("SWITCHYARD_SERVER", "http://127.0.0.1:7400")
    sy = Client(server, os.environ["SWITCHYARD_TOKEN"])
    space = f"pybench-{int(time.time())}"
    sy.call(put_machine, space, "cycle", body=Definition.from_dict(CYCLE))
    per_thread = events // threads
    for t in range(threads):
        sy.call(create_instance, space, "cycle", body=CreateInstance(id=f"i-{t}"))
    errors = []

    def run(t: int) -> None:
        try:
            for _ in range(per_thread):
                sy.call(apply_event, space, "cycle", f"i-{t}", body=SendEvent(event="next"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = per_thread * threads
    print(f"python client: {threads} threads, {done} events in {wall:.2f}s: {done / wall:.0f} events/s; "
          f"client CPU {cpu / done * 1e6:.0f} µs per call; errors {len(errors)}")
    sy.close()


if __name__ == "__main__":
    main()
