// The README tour through the TypeScript client, against the real server: a machine, an
// instance, events with an idempotency key, history, a watch that resumes across a server
// restart, KV with compare-and-set, a topic and a durable subscription, the hello function,
// and a typed error.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Switchyard, SwitchyardError, newIdempotencyKey } from "../dist/index.js";
import { Server } from "./support/server.js";

const ORDER = {
  initial: "pending",
  states: { pending: {}, paid: {}, shipped: { final: true } },
  transitions: [
    { from: "pending", event: "pay", to: "paid" },
    { from: "paid", event: "ship", to: "shipped" },
  ],
};
const order = (space) => ({ params: { path: { space, name: "order" } } });
const instance = (id) => ({ params: { path: { space: "acme", name: "order", id } } });

test("the tour", async () => {
  const server = await Server.start();
  try {
    const sy = new Switchyard({ server: server.url, token: server.token, retry: { backoffMs: 50 } });
    await sy.call(sy.api.PUT("/v1/spaces/{space}/machines/{name}", { ...order("acme"), body: ORDER }));
    const created = await sy.call(sy.api.POST("/v1/spaces/{space}/machines/{name}/instances", { ...order("acme"), body: { id: "o-1" } }));
    assert.equal(created.state, "pending");

    // An event with an idempotency key: its repeat answers the original and applies nothing.
    const key = newIdempotencyKey();
    const pay = { ...instance("o-1"), body: { event: "pay", payload: { amount: 120 } }, headers: { "Idempotency-Key": key } };
    const first = await sy.call(sy.api.POST("/v1/spaces/{space}/machines/{name}/instances/{id}/events", pay));
    const again = await sy.call(sy.api.POST("/v1/spaces/{space}/machines/{name}/instances/{id}/events", pay));
    assert.deepEqual([first.to, again.to, again.seq], ["paid", "paid", first.seq]);

    const history = await sy.call(sy.api.GET("/v1/spaces/{space}/machines/{name}/instances/{id}/history", instance("o-1")));
    assert.deepEqual(history.events.map((r) => r.kind), ["instance.created", "instance.transitioned"]);

    // A typed error: the code is the documented one.
    await assert.rejects(
      sy.call(sy.api.POST("/v1/spaces/{space}/machines/{name}/instances/{id}/events", { ...instance("o-1"), body: { event: "pay" } })),
      (e) => e instanceof SwitchyardError && e.status === 409 && e.code === "invalid_transition",
    );

    // KV with compare-and-set: a write naming an old revision is refused.
    const key_ = { params: { path: { space: "acme", bucket: "config", key: "db/url" } } };
    const bytes = (text) => ({ body: text, bodySerializer: (b) => b, headers: { "Content-Type": "text/plain" } });
    const written = await sy.call(sy.api.PUT("/v1/spaces/{space}/kv/{bucket}/keys/{key}", { ...key_, ...bytes("postgres://db-1") }));
    const ifRevision = (r) => ({ params: { ...key_.params, header: { "If-Match": `"${r}"` } } });
    await sy.call(sy.api.PUT("/v1/spaces/{space}/kv/{bucket}/keys/{key}", { ...ifRevision(written.revision), ...bytes("postgres://db-2") }));
    await assert.rejects(
      sy.call(sy.api.PUT("/v1/spaces/{space}/kv/{bucket}/keys/{key}", { ...ifRevision(written.revision), ...bytes("x") })),
      (e) => e instanceof SwitchyardError && e.code === "conflict",
    );
    const value = await sy.call(sy.api.GET("/v1/spaces/{space}/kv/{bucket}/keys/{key}", { ...key_, parseAs: "text" }));
    assert.equal(value, "postgres://db-2");

    // A topic and a durable subscription: pull, ack, nothing left.
    const mail = { params: { path: { space: "acme", name: "mail" } } };
    await sy.call(sy.api.PUT("/v1/spaces/{space}/subscriptions/{name}", { ...mail, body: { address: "acme:mail", kind: "topic.message", from: 0 } }));
    for (const n of [0, 1, 2]) {
      await sy.call(sy.api.POST("/v1/spaces/{space}/topics/{name}/messages", { ...mail, body: { payload: { n } } }));
    }
    const pulled = await sy.call(sy.api.POST("/v1/spaces/{space}/subscriptions/{name}/pull", { params: { ...mail.params, query: { max: 10 } } }));
    assert.deepEqual(pulled.records.map((r) => r.payload.payload.n), [0, 1, 2]);
    const acked = await sy.call(sy.api.POST("/v1/spaces/{space}/subscriptions/{name}/ack", { ...mail, body: { seqs: pulled.records.map((r) => r.seq) } }));
    assert.equal(acked.acked, 3);

    // The hello function.
    const component = readFileSync(process.env.SWITCHYARD_TEST_HELLO_WASM).toString("base64");
    const hello = { params: { path: { space: "acme", name: "hello" } } };
    const deployed = await sy.call(sy.api.PUT("/v1/spaces/{space}/functions/{name}", { ...hello, body: { component_base64: component } }));
    assert.equal(deployed.version, 1);
    const output = await sy.call(
      sy.api.POST("/v1/spaces/{space}/functions/{name}/invoke", {
        ...hello,
        body: JSON.stringify({ name: "Ada" }),
        bodySerializer: (b) => b,
        headers: { "Content-Type": "application/json" },
        parseAs: "json",
      }),
    );
    assert.deepEqual(output, { greeting: "Hello, Ada!" });
  } finally {
    await server.close();
  }
});

test("a watch resumes across a server restart", async () => {
  const server = await Server.start();
  try {
    const sy = new Switchyard({ server: server.url, token: server.token, retry: { backoffMs: 50, maxBackoffMs: 500 } });
    await sy.call(sy.api.PUT("/v1/spaces/{space}/machines/{name}", { ...order("acme"), body: ORDER }));
    const create = (id) => sy.call(sy.api.POST("/v1/spaces/{space}/machines/{name}/instances", { ...order("acme"), body: { id } }));
    const abort = new AbortController();
    const seen = [];
    let sawTwo;
    const two = new Promise((resolve) => (sawTwo = resolve));
    const watching = (async () => {
      for await (const record of sy.watch("acme", { start: 1, kind: "instance.created", signal: abort.signal })) {
        seen.push(record);
        if (seen.length === 2) sawTwo();
        if (seen.length === 4) return;
      }
    })();
    await create("before-0");
    await create("before-1");
    await two;
    await server.restart();
    // Calls retry while the server comes back; the watch reconnects after the last record seen.
    await create("after-0");
    await create("after-1");
    await watching;
    abort.abort();
    assert.deepEqual(seen.map((r) => r.address.split(":").pop()), ["before-0", "before-1", "after-0", "after-1"]);
    const seqs = seen.map((r) => r.seq);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), "a record was repeated or reordered");
  } finally {
    await server.close();
  }
});
