// Client helpers shared by the replay, overload, limits, drain and hostile
// tests, on top of harness.mjs: a subscriber that resumes with Last-Event-ID
// across connections, a keep-alive publisher of numbered events, plain HTTP
// from a chosen local address, and a tiny raw SSE probe. Every wait is a
// condition with a deadline; every loop is bounded.

import http from 'node:http';
import net from 'node:net';
import { request, sseConnect, waitFor } from './harness.mjs';

export const SSE_HEADERS = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' };

/** Whether an event is the per-client `connection` event. */
export const isConnection = (e) => !!(e.json && e.json.type === 'connection');

/**
 * A subscriber that survives its connections: `cut()` destroys the socket
 * (as a killed client would), `resume()` reconnects with the Last-Event-ID of
 * the last event it saw. With `autoResume`, a stream the server ends is
 * resumed too (as EventSource does), at most `maxResumes` times.
 *
 * `received()` is every event with an id, across connections, in arrival
 * order; `conns` every sseConnect object it used.
 */
export class Resumable {
  constructor(url, { autoResume = false, maxResumes = 20, firstLastId, headers = {}, timeout } = {}) {
    this.url = url;
    this.autoResume = autoResume;
    this.maxResumes = maxResumes;
    this.firstLastId = firstLastId;
    this.headers = headers;
    this.timeout = timeout;
    this.conns = [];
    this.resumes = 0;
    this.stopped = false;
    this.failures = [];
    this.pending = null; // the reconnect in flight
  }

  get current() { return this.conns[this.conns.length - 1]; }

  /** Last id seen over all connections (string) or undefined. */
  lastId() {
    for (let i = this.conns.length - 1; i >= 0; i--) {
      const evs = this.conns[i].events;
      for (let j = evs.length - 1; j >= 0; j--) if (evs[j].id !== null) return evs[j].id;
    }
    return this.firstLastId;
  }

  /** Events with an id, across connections, in arrival order. */
  received() {
    const out = [];
    for (const c of this.conns) for (const e of c.events) if (e.id !== null) out.push(e);
    return out;
  }

  /** Number of events with an id received so far (cheap enough to poll). */
  count() {
    let n = 0;
    for (const c of this.conns) for (const e of c.events) if (e.id !== null) n++;
    return n;
  }

  /** Events without id (connection, events_missed, ...) across connections. */
  unsequenced() {
    const out = [];
    for (const c of this.conns) for (const e of c.events) if (e.id === null) out.push(e);
    return out;
  }

  /** Opens a connection (resuming from lastId()) and waits for `connection`. */
  async open() {
    const headers = { ...SSE_HEADERS, ...this.headers };
    const last = this.lastId();
    if (last !== undefined) headers['Last-Event-ID'] = last;
    const s = await sseConnect(this.url, { headers, timeout: this.timeout });
    s.openedAt = Date.now(); // once the response head arrived
    s.socket.once('close', () => { s.closedAt = Date.now(); });
    this.conns.push(s);
    if (s.status !== 200) throw new Error(`subscribe ${this.url}: status ${s.status} ${s.body}`);
    if (this.autoResume) {
      s.socket.once('close', () => {
        if (this.stopped || s.cutByUs) return;
        if (this.resumes >= this.maxResumes) {
          this.failures.push(`more than ${this.maxResumes} server-side ends`);
          return;
        }
        this.resumes++;
        this.pending = this.open().catch((err) => { this.failures.push(err.message); });
      });
    }
    await s.nextEvent(isConnection, { what: 'the connection event', timeout: this.timeout });
    return s;
  }

  /** Destroys the current socket without a word, as a killed client. */
  cut() {
    const s = this.current;
    if (s && !s.closed) {
      s.cutByUs = true;
      s.socket.destroy();
    }
  }

  /** Stops resuming and closes the current connection. */
  async close() {
    this.stopped = true;
    const s = this.current;
    if (s) { s.cutByUs = true; await s.close(); }
  }
}

/**
 * Checks that `events` (with ids) are exactly the ids from..to, each once,
 * in order; returns a description of the first problem or null.
 */
export function checkConsecutive(events, from, to) {
  const ids = events.map((e) => Number(e.id));
  if (ids.length !== to - from + 1) {
    const seen = new Set();
    const dups = ids.filter((x) => (seen.has(x) ? true : (seen.add(x), false)));
    const missing = [];
    for (let k = from; k <= to && missing.length < 10; k++) if (!seen.has(k)) missing.push(k);
    return `expected ids ${from}..${to} (${to - from + 1}), got ${ids.length}; ` +
      `duplicates [${dups.slice(0, 10)}], missing [${missing}]`;
  }
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== from + i) {
      return `out of order at index ${i}: ${ids.slice(Math.max(0, i - 3), i + 4).join(',')}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// Plain HTTP with a chosen agent or local address

/**
 * One HTTP request; resolves to {status, headers, text, json}. Options:
 * agent (e.g. a keep-alive agent; default: none), localAddress, body (string
 * or Buffer sent as is, anything else as JSON), headers, timeout.
 */
export function httpRequest(base, method, urlPath, options = {}) {
  return request(base, method, urlPath, options);
}

/**
 * Posts numbered events {n: 1, 2, ...} to one stream, one at a time over a
 * keep-alive connection, until stop() or `max` events. `acked` lists every n
 * whose POST answered 200, with the stream sequence it got.
 */
export class NumberedPublisher {
  constructor(base, prefix, streamId, { max = 10_000, size = 0, type = 'numbered', pauseMs = 0, onAck } = {}) {
    this.base = base;
    this.prefix = prefix;
    this.streamId = streamId;
    this.max = max;
    this.pad = size > 0 ? 'x'.repeat(size) : undefined;
    this.type = type;
    this.pauseMs = pauseMs;
    this.onAck = onAck;
    this.acked = []; // [{n, seq, at}]
    this.errors = [];
    this.running = false;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Starts publishing; returns the promise of the publishing loop. */
  start() {
    this.running = true;
    this.done = (async () => {
      for (let n = 1; this.running && n <= this.max; n++) {
        const data = this.pad === undefined ? { n } : { n, pad: this.pad };
        let res;
        try {
          res = await httpRequest(this.base, 'POST', `${this.prefix}/broadcast`, {
            body: { stream_id: this.streamId, type: this.type, message: `event ${n}`, data },
            agent: this.agent,
          });
        } catch (err) {
          this.errors.push(`n=${n}: ${err.message}`);
          break;
        }
        if (res.status !== 200) {
          this.errors.push(`n=${n}: ${res.status} ${res.text.slice(0, 200)}`);
          break;
        }
        const ack = { n, seq: res.json && res.json.data ? res.json.data.id : undefined, at: Date.now() };
        this.acked.push(ack);
        if (this.onAck) this.onAck(ack);
        if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
      }
      this.running = false;
    })();
    return this.done;
  }

  /** Waits until at least `count` events are acknowledged. */
  waitAcked(count, opts = {}) {
    return waitFor(() => this.acked.length >= count || this.errors.length > 0 || !this.running,
      `${count} acknowledged broadcasts (have ${this.acked.length})`, opts).then(() => {
      if (this.acked.length < count) {
        throw new Error(`publisher stopped at ${this.acked.length}/${count}: ${this.errors.join('; ')}`);
      }
    });
  }

  async stop() {
    this.running = false;
    if (this.done) await this.done;
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------------------
// Raw probe

/**
 * Opens a raw connection (optionally from `localAddress`), sends a GET for
 * `path` and collects every byte as latin1 text. Resolves once connected;
 * the object has text(), utf8(), closed, closedAt (promise of ms since
 * connect), status() (from the status line, 0 until it arrived), close().
 */
export function rawGet(port, path, { headers = {}, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => {
      const t0 = Date.now();
      const chunks = [];
      const probe = {
        socket,
        closed: false,
        text: () => Buffer.concat(chunks).toString('latin1'),
        utf8: () => Buffer.concat(chunks).toString('utf8'),
        status: () => {
          const m = probe.text().match(/^HTTP\/1\.[01] (\d{3})/);
          return m ? Number(m[1]) : 0;
        },
        close: () => { socket.destroy(); return probe.closedAt; },
      };
      probe.closedAt = new Promise((r) => socket.once('close', () => { probe.closed = true; r(Date.now() - t0); }));
      socket.on('data', (d) => chunks.push(d));
      socket.on('error', () => { /* a reset is a close too */ });
      const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      resolve(probe);
    });
    socket.once('error', reject);
  });
}
