// Test harness for the integration tests: starts the real eventcast binary on
// 127.0.0.1 with an ephemeral port, and gives the tests plain HTTP, a raw SSE
// reader and /proc probes. Every wait is a condition with a deadline derived
// from DEADLINE_MS; nothing sleeps to synchronize.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StringDecoder } from 'node:string_decoder';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The one deadline every wait derives from (ms). Override for slow builds. */
export const DEADLINE_MS = Number(process.env.EVENTCAST_TEST_DEADLINE_MS) || 10_000;

/** Path of the server binary under test. */
export const SERVER_BIN =
  process.env.EVENTCAST_BIN || path.resolve(here, '../../build/test/app/eventcast');
/** Path of the example binary (orders service). */
export const EXAMPLE_BIN =
  process.env.EVENTCAST_EXAMPLE_BIN ||
  path.resolve(here, '../../build/test/examples/orders_service');

const LISTENING = /listening on http:\/\/([\d.]+):(\d+)/;
const MAX_LOG_CHARS = 8 * 1024 * 1024; // keep at most this much of stderr

// Every process we spawn, so a crashed test run still kills them by pid.
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/** A promise that rejects after `ms` with a message naming `what`. */
function withDeadline(promise, ms, what, onTimeout) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      if (onTimeout) onTimeout();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls `cond` (sync or async) until it returns a truthy value, which is
 * returned. Throws after `timeout` ms, naming `what` and the last value or error.
 */
export async function waitFor(cond, what, { timeout = DEADLINE_MS, interval = 25 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      const said = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${timeout} ms waiting for ${said} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Lets `ms` pass while something is observed (e.g. that no event arrives).
 * Only for checking an absence over a window, never to synchronize.
 */
export function observe(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function writeConfig(yamlText) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eventcast-test-'));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, yamlText);
  return { dir, file };
}

function spawnProcess(bin, args) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stderr = '';
  let stdout = '';
  const keep = (s, chunk) => {
    s += chunk;
    return s.length > MAX_LOG_CHARS ? s.slice(s.length - MAX_LOG_CHARS) : s;
  };
  child.stderr.setEncoding('utf8');
  child.stdout.setEncoding('utf8');
  child.stderr.on('data', (c) => { stderr = keep(stderr, c); child.emit('stderr-text'); });
  child.stdout.on('data', (c) => { stdout = keep(stdout, c); });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      live.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
  });
  return {
    child,
    exited,
    stderrText: () => stderr,
    stdoutText: () => stdout,
  };
}

/**
 * Runs a binary to completion (e.g. with a bad config) and returns
 * {code, signal, stderr, stdout}; kills it if it outlives the deadline.
 */
export async function runToExit({ bin = SERVER_BIN, config, args = [] } = {}) {
  const cfg = config !== undefined ? writeConfig(config) : null;
  const fullArgs = ['--host', '127.0.0.1', '--port', '0', ...(cfg ? ['--config', cfg.file] : []), ...args];
  const p = spawnProcess(bin, fullArgs);
  try {
    const res = await withDeadline(p.exited, DEADLINE_MS, `${path.basename(bin)} to exit`, () => {
      try { process.kill(p.child.pid, 'SIGKILL'); } catch { /* gone */ }
    });
    return { ...res, stderr: p.stderrText(), stdout: p.stdoutText() };
  } finally {
    if (cfg) rmSync(cfg.dir, { recursive: true, force: true });
  }
}

/**
 * Starts the server (or `bin`) on 127.0.0.1:0, optionally with a YAML config,
 * and waits for its "listening on http://HOST:PORT" line on stderr.
 */
export async function startServer({ config, bin = SERVER_BIN, args = [] } = {}) {
  const cfg = config !== undefined ? writeConfig(config) : null;
  const fullArgs = ['--host', '127.0.0.1', '--port', '0', ...(cfg ? ['--config', cfg.file] : []), ...args];
  const p = spawnProcess(bin, fullArgs);
  const cleanup = () => { if (cfg) rmSync(cfg.dir, { recursive: true, force: true }); };

  const listening = new Promise((resolve, reject) => {
    const check = () => {
      const m = p.stderrText().match(LISTENING);
      if (m) {
        p.child.off('stderr-text', check);
        resolve({ host: m[1], port: Number(m[2]) });
      }
    };
    p.child.on('stderr-text', check);
    check();
    p.exited.then((r) => reject(new Error(
      `${path.basename(bin)} exited before listening (code ${r.code}, signal ${r.signal}` +
      `${r.error ? `, ${r.error.message}` : ''})\nstderr:\n${p.stderrText().slice(-4000)}`)));
  });

  let addr;
  try {
    addr = await withDeadline(listening, DEADLINE_MS, `"listening on" from ${bin}`, () => {
      try { process.kill(p.child.pid, 'SIGKILL'); } catch { /* gone */ }
    });
  } catch (err) {
    cleanup();
    err.message += `\nstderr so far:\n${p.stderrText().slice(-4000)}\nstdout so far:\n${p.stdoutText().slice(-2000)}`;
    throw err;
  }

  const pid = p.child.pid;
  let stopping = null;
  // A server that dies on its own is the likeliest cause of whatever fails
  // next: say so, with its last words (e.g. a sanitizer report).
  let reported = false;
  const report = (r, how) => {
    if (reported) return;
    reported = true;
    process.stderr.write(`\n*** ${path.basename(bin)} (pid ${pid}) ${how}: ` +
      `code ${r.code}, signal ${r.signal}; last stderr:\n${p.stderrText().slice(-6000)}\n`);
  };
  p.exited.then((r) => { if (!stopping) report(r, 'exited on its own'); });
  const server = {
    port: addr.port,
    host: addr.host,
    base: `http://127.0.0.1:${addr.port}`,
    proc: p.child,
    pid,
    exited: p.exited,
    stderrText: p.stderrText,
    stdoutText: p.stdoutText,
    alive: () => p.child.exitCode === null && p.child.signalCode === null,
    /**
     * Sends `signal` and resolves to the exit code (null if killed by a
     * signal). If the process outlives the deadline it is SIGKILLed.
     */
    async stop(signal = 'SIGTERM') {
      if (!stopping) {
        stopping = (async () => {
          if (server.alive()) {
            try { process.kill(pid, signal); } catch { /* gone */ }
          }
          let res;
          try {
            res = await withDeadline(p.exited, DEADLINE_MS, `server ${pid} to exit`);
          } catch {
            try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
            res = await p.exited;
          }
          cleanup();
          if ((res.signal && res.signal !== signal) || (res.code !== 0 && res.code !== null)) {
            report(res, `ended badly after ${signal}`);
          }
          return res.code;
        })();
      }
      return stopping;
    },
  };
  return server;
}

// ---------------------------------------------------------------------------
// Plain HTTP

/**
 * One HTTP request, by default on its own connection (agent: false; pass a
 * keep-alive agent to reuse one) from the default local address.
 * `body`: a string or Buffer is sent as is, anything else as JSON.
 * Resolves to {status, headers (lower-case names), text, json}.
 */
export function request(base, method, urlPath,
  { body, headers = {}, agent = false, localAddress, timeout = DEADLINE_MS } = {}) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined
      : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const h = { ...headers };
    if (payload !== undefined) {
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
      h['Content-Length'] = Buffer.byteLength(payload);
    }
    const req = http.request({
      host: url.hostname, port: url.port, method, path: urlPath, headers: h, agent, localAddress,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`timed out after ${timeout} ms: ${method} ${urlPath}`));
    }, timeout);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export const getJson = (base, p, opts) => request(base, 'GET', p, opts);
export const postJson = (base, p, body, opts = {}) => request(base, 'POST', p, { ...opts, body });

/** POST {prefix}/broadcast and insist on 200. */
export async function broadcast(base, prefix, body) {
  const res = await postJson(base, `${prefix}/broadcast`, body);
  if (res.status !== 200) {
    throw new Error(`broadcast to ${prefix} failed: ${res.status} ${res.text}`);
  }
  return res;
}

/** GET {prefix}/streams → its data map (insists on 200). */
export async function streamsOf(base, prefix) {
  const res = await getJson(base, `${prefix}/streams`);
  if (res.status !== 200 || !res.json || typeof res.json.data !== 'object') {
    throw new Error(`GET ${prefix}/streams: ${res.status} ${res.text}`);
  }
  return res.json.data;
}

/** Number of clients of one stream per /streams (0 when the stream is absent). */
export async function clientsOf(base, prefix, streamId) {
  const data = await streamsOf(base, prefix);
  return data[streamId] ? data[streamId].clients : 0;
}

// ---------------------------------------------------------------------------
// Raw SSE client over node:net

/**
 * Opens `url` (plain HTTP/1.1) and reads it as an SSE stream: parses the
 * status line and headers, de-chunks a chunked body, and parses SSE fields
 * as the HTML spec does. Resolves once the response head has arrived.
 *
 * The returned object has: status, headers (lower-case names), events
 * [{id, lastEventId, event, data, json}] (`id` is the id field of that very
 * event block, or null when it had none), comments [text], retry (last value),
 * log [{kind: 'retry'|'comment'|'event', ...}] in arrival order, body (the
 * de-chunked text for non-SSE answers), errors [protocol errors], ended,
 * nextEvent(pred, {from, timeout}), waitEnd(timeout), close().
 */
export function sseConnect(url, { headers = {}, timeout = DEADLINE_MS } = {}) {
  const u = new URL(url);
  const socket = net.connect({ host: u.hostname, port: Number(u.port) });
  const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');

  const s = {
    status: 0,
    headers: {},
    events: [],
    comments: [],
    retry: undefined,
    log: [],
    body: '',
    errors: [],
    ended: false,
    socket,
  };

  let head = Buffer.alloc(0);
  let inBody = false;
  let chunked = false;
  let remainingLength = Infinity; // Content-Length bodies
  let buf = Buffer.alloc(0); // undecoded chunked-framing bytes
  let chunkState = 'size';
  let chunkLeft = 0;
  const decoder = new StringDecoder('utf8');
  let pending = '';
  // SSE parser state (HTML spec, "event stream interpretation")
  let dataBuf = '';
  let eventType = '';
  let lastEventId = '';
  let blockId = null;
  let sawData = false;
  const waiters = new Set();

  const notify = () => { for (const w of [...waiters]) w(); };

  const dispatch = () => {
    const id = blockId;
    blockId = null;
    if (!sawData) { dataBuf = ''; eventType = ''; return; }
    sawData = false;
    let data = dataBuf;
    if (data.endsWith('\n')) data = data.slice(0, -1);
    dataBuf = '';
    let json;
    try { json = JSON.parse(data); } catch { json = undefined; }
    const ev = { id, lastEventId, event: eventType || undefined, data, json };
    eventType = '';
    s.events.push(ev);
    s.log.push({ kind: 'event', event: ev });
  };

  const processLine = (line) => {
    if (line === '') { dispatch(); return; }
    if (line.startsWith(':')) {
      const text = line.slice(1).replace(/^ /, '');
      s.comments.push(text);
      s.log.push({ kind: 'comment', text });
      return;
    }
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
    }
    switch (field) {
      case 'event': eventType = value; break;
      case 'data': dataBuf += value + '\n'; sawData = true; break;
      case 'id':
        if (!value.includes('\0')) { lastEventId = value; blockId = value; }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) {
          s.retry = Number(value);
          s.log.push({ kind: 'retry', value: s.retry });
        } else {
          s.errors.push(`bad retry value ${JSON.stringify(value)}`);
        }
        break;
      default:
        s.errors.push(`unknown SSE field ${JSON.stringify(field)}`);
    }
  };

  const feedText = (text) => {
    pending += text;
    let start = 0;
    for (;;) {
      const rest = pending.slice(start);
      const m = rest.search(/[\r\n]/);
      if (m < 0) break;
      const at = start + m;
      if (pending[at] === '\r' && at + 1 >= pending.length) break; // maybe CRLF split
      processLine(pending.slice(start, at));
      start = at + (pending[at] === '\r' && pending[at + 1] === '\n' ? 2 : 1);
    }
    pending = pending.slice(start);
  };

  const feedBody = (bytes) => {
    const text = decoder.write(bytes);
    if (s.isSse) feedText(text); else s.body += text;
  };

  const feedChunked = (bytes) => {
    buf = buf.length ? Buffer.concat([buf, bytes]) : bytes;
    let off = 0;
    while (off < buf.length && chunkState !== 'done') {
      if (chunkState === 'size' || chunkState === 'trailer') {
        const nl = buf.indexOf('\r\n', off);
        if (nl < 0) break;
        const line = buf.slice(off, nl).toString('latin1');
        off = nl + 2;
        if (chunkState === 'trailer') {
          if (line === '') { chunkState = 'done'; s.ended = true; }
          continue;
        }
        const sizeText = line.split(';')[0].trim();
        if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
          s.errors.push(`bad chunk size line ${JSON.stringify(line.slice(0, 80))}`);
          chunkState = 'done';
          break;
        }
        chunkLeft = parseInt(sizeText, 16);
        chunkState = chunkLeft === 0 ? 'trailer' : 'data';
      } else if (chunkState === 'data') {
        const n = Math.min(chunkLeft, buf.length - off);
        feedBody(buf.slice(off, off + n));
        off += n;
        chunkLeft -= n;
        if (chunkLeft === 0) chunkState = 'crlf';
      } else if (chunkState === 'crlf') {
        if (buf.length - off < 2) break;
        if (buf[off] !== 13 || buf[off + 1] !== 10) {
          s.errors.push('chunk not followed by CRLF');
          chunkState = 'done';
          break;
        }
        off += 2;
        chunkState = 'size';
      }
    }
    buf = buf.slice(off);
  };

  const onBodyBytes = (bytes) => {
    if (chunked) { feedChunked(bytes); return; }
    if (remainingLength !== Infinity) {
      const n = Math.min(bytes.length, remainingLength);
      feedBody(bytes.slice(0, n));
      remainingLength -= n;
      if (remainingLength === 0) s.ended = true;
      return;
    }
    feedBody(bytes);
  };

  const headReady = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out after ${timeout} ms waiting for the response head of ${url}`));
    }, timeout);
    socket.on('data', (bytes) => {
      if (!inBody) {
        head = Buffer.concat([head, bytes]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headText = head.slice(0, end).toString('latin1');
        const rest = head.slice(end + 4);
        const [statusLine, ...headerLines] = headText.split('\r\n');
        const m = statusLine.match(/^HTTP\/1\.[01] (\d{3})/);
        s.status = m ? Number(m[1]) : -1;
        s.statusLine = statusLine;
        for (const l of headerLines) {
          const i = l.indexOf(':');
          if (i <= 0) continue;
          const k = l.slice(0, i).trim().toLowerCase();
          const v = l.slice(i + 1).trim();
          s.headers[k] = s.headers[k] !== undefined ? `${s.headers[k]}, ${v}` : v;
        }
        chunked = /chunked/i.test(s.headers['transfer-encoding'] || '');
        if (!chunked && s.headers['content-length'] !== undefined) {
          remainingLength = Number(s.headers['content-length']);
          if (remainingLength === 0) s.ended = true;
        }
        s.isSse = /^text\/event-stream/i.test(s.headers['content-type'] || '');
        inBody = true;
        clearTimeout(timer);
        resolve();
        if (rest.length) onBodyBytes(rest);
      } else {
        onBodyBytes(bytes);
      }
      notify();
    });
    socket.on('error', (err) => {
      s.errors.push(`socket: ${err.code || err.message}`);
      if (!inBody) { clearTimeout(timer); reject(err); }
    });
    socket.on('close', () => {
      s.closed = true;
      if (!inBody) { clearTimeout(timer); reject(new Error(`connection closed before a response head from ${url}`)); }
      notify();
    });
  });

  const closed = new Promise((r) => socket.once('close', r));

  /** Resolves when the stream holds `n` events matching `pred`; returns them. */
  s.waitEvents = (n, pred = () => true, { from = 0, timeout: t = DEADLINE_MS, what } = {}) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hits = s.events.slice(from).filter(pred);
        if (hits.length >= n) { finish(); resolve(hits.slice(0, n)); return; }
        if (s.closed) {
          finish();
          reject(new Error(`stream ${u.pathname} closed while waiting for ${what || `${n} event(s)`}` +
            ` (had ${hits.length}; errors: ${s.errors.join('; ') || 'none'})`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${t} ms on ${u.pathname} waiting for ${what || `${n} event(s)`}` +
          ` (got ${s.events.length} events: ${s.events.slice(-5).map((e) => e.data).join(' | ')})`));
      }, t);
      const finish = () => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      check();
    });

  /** The first event (at index >= from) matching `pred`, waiting for it. */
  s.nextEvent = (pred = () => true, opts = {}) => s.waitEvents(1, pred, opts).then((x) => x[0]);

  /** Waits until the server ends the stream or closes the connection. */
  s.waitEnd = (t = DEADLINE_MS) => withDeadline(
    s.closed ? Promise.resolve() : closed, t, `the server to close ${u.pathname}`);

  /** Closes our side and resolves once the socket is closed. */
  s.close = () => {
    if (!s.closed) socket.destroy();
    return closed;
  };

  return headReady.then(() => s, (err) => { socket.destroy(); throw err; });
}

/** sseConnect, then waits for the `connection` event (the subscription is live). */
export async function subscribe(url, opts) {
  const s = await sseConnect(url, { headers: { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' }, ...opts });
  if (s.status !== 200) {
    s.close();
    throw new Error(`subscribe ${url}: status ${s.status} ${s.body}`);
  }
  await s.nextEvent((e) => e.json && e.json.type === 'connection', { what: 'the connection event' });
  return s;
}

/**
 * Opens a raw TCP connection and writes `text`; resolves to the socket plus a
 * `closedAt` promise (ms since writing) and the bytes received so far.
 */
export function rawConnect(port, text) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      const t0 = Date.now();
      const conn = { socket, received: '', t0 };
      conn.closedAt = new Promise((r) => socket.once('close', () => r(Date.now() - t0)));
      socket.on('data', (d) => { conn.received += d.toString('latin1'); });
      socket.on('error', () => { /* a reset is a close too */ });
      socket.write(text);
      resolve(conn);
    });
    socket.once('error', reject);
  });
}

// ---------------------------------------------------------------------------
// /proc probes

/** Resident set size of `pid` in KiB. */
export function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Number of open file descriptors of `pid`. */
export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Whether `pid` runs an AddressSanitizer build (libasan mapped). */
export function isAsan(pid) {
  try {
    return /libasan|libclang_rt\.asan/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch {
    return false;
  }
}

/** Current Unix time in seconds. */
export const nowSec = () => Math.floor(Date.now() / 1000);

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export const EVENTS = '/api/v1/events';
export const DEMO = '/api/v1/broadcast-demo';
