// Cluster test helpers: a 3-server NATS JetStream cluster on 127.0.0.1
// (started by scripts/nats-cluster.sh, so tests and people run the same one),
// Eventcast nodes joined to it, and a publisher that spreads numbered events
// over the nodes and survives a node's death. Every wait has a deadline.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServer, request, waitFor, EVENTS } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = path.resolve(here, '../../scripts/nats-cluster.sh');
const run = promisify(execFile);

const canListen = (port) => new Promise((resolve) => {
  const srv = net.createServer();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});

/** Whether the NATS server monitored on `port` says it is healthy: for
 * JetStream, caught up with the meta leader and its streams' leaders. */
const healthy = (port) => new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
    res.resume();
    resolve(res.statusCode === 200);
  }).on('error', () => resolve(false));
});

/** A base port whose nine ports (clients, routes, monitoring) are free now.
 * Below Linux's ephemeral range (32768-60999): a client socket of a test
 * running beside this one cannot take a port between this check and the
 * NATS server's bind, as one did under ThreadSanitizer ("bind: address
 * already in use" on a route port). */
async function basePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 420) * 30;
    const ports = [0, 1, 2, 10, 11, 12, 20, 21, 22].map((d) => base + d);
    if ((await Promise.all(ports.map(canListen))).every(Boolean)) return base;
  }
  throw new Error('no free ports for a NATS cluster');
}

/**
 * Starts three NATS servers; `urls` for --cluster, `kill(i)` (SIGKILL of
 * server i in 1..3), `restart(i)` (same config and store), `whole()`,
 * `stop()`.
 */
export async function startNats() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eventcast-nats-'));
  const base = await basePort();
  await run(script, ['start', dir, String(base)], { timeout: 60_000 });
  const restarted = new Map(); // server number -> child process
  const pidOf = (i) => (restarted.has(i) ? restarted.get(i).pid
    : Number(readFileSync(path.join(dir, `n${i}.pid`), 'utf8')));
  return {
    dir,
    urls: [0, 1, 2].map((i) => `nats://127.0.0.1:${base + i}`).join(','),
    url: (i) => `nats://127.0.0.1:${base + i - 1}`,
    kill(i) { process.kill(pidOf(i), 'SIGKILL'); },
    signal(i, sig) { process.kill(pidOf(i), sig); },
    restart(i) {
      const child = spawn('nats-server', ['-c', path.join(dir, `n${i}.conf`)],
        { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } });
      restarted.set(i, child);
    },
    /** Waits until all three servers are healthy again (after a restart). */
    async whole() {
      const all = async () => (await Promise.all([1, 2, 3].map((i) => healthy(base + 20 + i - 1))))
        .every(Boolean);
      await waitFor(all, 'all three NATS servers healthy', { timeout: 30_000 });
    },
    async stop() {
      for (const c of restarted.values()) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
      try { await run(script, ['stop', dir], { timeout: 30_000 }); } catch { /* best effort */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An Eventcast node of the cluster at `urls`. */
export function startNode(urls, name, { config = '', cluster = '', args = [] } = {}) {
  return startServer({
    config: `cluster:\n  urls: "${urls}"\n  node_name: ${name}\n${cluster}${config}`,
    args,
  });
}

/**
 * Posts numbered events {n} to one stream, one at a time, taking the nodes in
 * turn. A request that fails (a dead node, a 503) is not acknowledged and the
 * publisher moves to the next node; `acked` holds {n, seq, node} of each 200.
 */
export class SpreadPublisher {
  constructor(nodes, streamId, { max = 1000, prefix = EVENTS } = {}) {
    this.nodes = nodes;
    this.streamId = streamId;
    this.max = max;
    this.prefix = prefix;
    this.acked = [];
    this.failures = []; // why each unacknowledged publish failed
    this.running = false;
    this.agents = nodes.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  }

  start() {
    this.running = true;
    this.done = (async () => {
      for (let n = 1, turn = 0; this.running && n <= this.max; turn++) {
        const i = turn % this.nodes.length;
        const node = this.nodes[i];
        if (!node.alive()) continue;
        try {
          const res = await request(node.base, 'POST', `${this.prefix}/broadcast`, {
            body: { stream_id: this.streamId, type: 'numbered', message: `event ${n}`, data: { n } },
            agent: this.agents[i],
            timeout: 5000,
          });
          if (res.status === 200) {
            this.acked.push({ n, seq: res.json.data.id, node: i, stored: res.json.data.stored });
            n++;
            continue;
          }
          this.failures.push(`n=${n} node ${i}: ${res.status} ${res.text.slice(0, 200)}`);
        } catch (err) { // node died or timed out: outcome unknown
          this.failures.push(`n=${n} node ${i}: ${err.message}`);
        }
        n++; // an unacknowledged n may or may not have been stored
        await new Promise((r) => setTimeout(r, 20));
      }
      this.running = false;
    })();
    return this.done;
  }

  waitAcked(count, opts) {
    return waitFor(() => this.acked.length >= count, `${count} acknowledged events (have ${this.acked.length})`, opts);
  }

  async stop() {
    this.running = false;
    if (this.done) await this.done;
    for (const a of this.agents) a.destroy();
  }
}

/**
 * Checks that `ids` (numbers, in arrival order) are consecutive from `from`
 * and contain every acknowledged seq; returns an error text or ''.
 */
export function checkComplete(ids, acked, from = ids[0]) {
  if (ids.length === 0) return 'no events';
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== from + i) return `expected id ${from + i} at ${i}, got ${ids[i]} (ids ${ids.slice(Math.max(0, i - 3), i + 3)})`;
  }
  const have = new Set(ids);
  const missing = acked.filter((a) => a.seq >= from && !have.has(a.seq));
  return missing.length > 0 ? `acknowledged but not received: ${missing.slice(0, 5).map((a) => a.seq)}` : '';
}

/** Waits until `sub` has the event `seq`; on timeout says what it has. */
export function waitForId(sub, seq, what, opts) {
  const ids = () => sub.received().map((e) => Number(e.id));
  return waitFor(() => ids().includes(seq), what, opts).catch((err) => {
    const have = ids();
    err.message += ` — has ${have.length} ids, last ${have.slice(-3)}; ${checkComplete(have, [], 1)}`;
    throw err;
  });
}
