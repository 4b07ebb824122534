// Starts the real `switchyard` binary for the tests: SWITCHYARD_BIN names it (the Rust test
// crates/cli/tests/clients.rs runs these tests with the binary it built).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, openSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function answers(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A `switchyard serve` on a port of its own, with a data directory that outlives restarts. */
export class Server {
  static async start() {
    const binary = process.env.SWITCHYARD_BIN;
    if (!binary) throw new Error("SWITCHYARD_BIN must name the switchyard binary (crates/cli/tests/clients.rs sets it)");
    const server = new Server(binary, mkdtempSync(join(tmpdir(), "switchyard-ts-")), await freePort());
    await server.start();
    return server;
  }

  constructor(binary, work, port) {
    this.binary = binary;
    this.work = work;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.token = "";
    this.process = undefined;
  }

  async start() {
    const log = openSync(join(this.work, "server.log"), "a");
    this.process = spawn(this.binary, ["serve", "--listen", `127.0.0.1:${this.port}`, "--data-dir", join(this.work, "data")], {
      stdio: ["ignore", "ignore", log],
    });
    const deadline = Date.now() + 60_000;
    while (!(await answers(this.port))) {
      if (this.process.exitCode !== null) throw new Error(`switchyard serve exited with ${this.process.exitCode}`);
      if (Date.now() > deadline) throw new Error("switchyard serve did not listen within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.token = readFileSync(join(this.work, "data", "admin.token"), "utf8").trim();
  }

  async stop() {
    if (!this.process) return;
    const exited = new Promise((resolve) => this.process.once("exit", resolve));
    this.process.kill("SIGTERM");
    await exited;
    this.process = undefined;
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  async close() {
    await this.stop();
    rmSync(this.work, { recursive: true, force: true });
  }
}
