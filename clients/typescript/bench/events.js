// Events a second through the TypeScript client: IN_FLIGHT requests in flight on one client,
// each applying events to its own instance of a 5-state cycle, as `switchyard bench events`
// does. Prints throughput and the client's own CPU time per call.
//
//   npm run build && SWITCHYARD_SERVER=http://127.0.0.1:7400 SWITCHYARD_TOKEN=... \
//       node clients/typescript/bench/events.js [IN_FLIGHT] [EVENTS]
import { Switchyard } from "../dist/index.js";

const inFlight = Number(process.argv[2] ?? 64);
const events = Number(process.argv[3] ?? 50000);
const sy = new Switchyard({ server: process.env.SWITCHYARD_SERVER ?? "http://127.0.0.1:7400", token: process.env.SWITCHYARD_TOKEN });
const states = ["s0", "s1", "s2", "s3", "s4"];
const cycle = {
  initial: "s0",
  states: Object.fromEntries(states.map((s) => [s, {}])),
  transitions: states.map((s, i) => ({ from: s, event: "next", to: states[(i + 1) % 5] })),
};
const space = `tsbench-${Date.now()}`;
await sy.call(sy.api.PUT("/v1/spaces/{space}/machines/{name}", { params: { path: { space, name: "cycle" } }, body: cycle }));
const perWorker = Math.floor(events / inFlight);
for (let w = 0; w < inFlight; w++) {
  await sy.call(sy.api.POST("/v1/spaces/{space}/machines/{name}/instances", { params: { path: { space, name: "cycle" } }, body: { id: `i-${w}` } }));
}
const cpu = process.cpuUsage();
const started = performance.now();
await Promise.all(
  Array.from({ length: inFlight }, async (_, w) => {
    const init = { params: { path: { space, name: "cycle", id: `i-${w}` } }, body: { event: "next" } };
    for (let n = 0; n < perWorker; n++) {
      await sy.call(sy.api.POST("/v1/spaces/{space}/machines/{name}/instances/{id}/events", init));
    }
  }),
);
const wall = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const done = perWorker * inFlight;
console.log(
  `typescript client: ${inFlight} in flight, ${done} events in ${wall.toFixed(2)}s: ${Math.round(done / wall)} events/s; ` +
    `client CPU ${Math.round((used.user + used.system) / done)} µs per call`,
);
