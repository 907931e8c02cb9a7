// Overload protection (`limits`, `streams.max_streams`, server timeouts):
// an SSE subscribe refused for load answers 200 with a `retry:` and ends
// (a browser's EventSource would give up for good on anything else), the
// admitted clients keep working; a stream limit answers 503 `unavailable`;
// a publish rate answers 429 `rate_limited` with Retry-After; a client TTL
// ends a stream with `retry:` and the client resumes without a gap; slow
// request heads and bodies are cut.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import {
  startServer, sseConnect, subscribe, broadcast, postJson, waitFor, observe, DEADLINE_MS, EVENTS, DEMO,
} from './harness.mjs';
import {
  Resumable, NumberedPublisher, httpRequest, rawGet, checkConsecutive, isConnection, SSE_HEADERS,
} from './clients.mjs';

const RETRY_MS = 1000;
const servers = [];
const conns = new Set();
const resumables = new Set();
const publishers = new Set();

after(async () => {
  for (const p of publishers) await p.stop();
  for (const r of resumables) await r.close();
  for (const c of conns) c.close();
  await Promise.all(servers.map((s) => s.stop()));
});

const start = async (config) => {
  const s = await startServer({ config: `sse:\n  retry: ${RETRY_MS}ms\n${config}` });
  servers.push(s);
  return s;
};
const track = (s) => { conns.add(s); return s; };
const sub = async (url) => track(await subscribe(url));

let seq = 0;
const marker = () => `limits${process.pid}-${++seq}`;
const hasMarker = (m) => (e) => !!(e.json && e.json.data && e.json.data.marker === m);

/** A refused SSE subscribe: 200, a retry: line, the end, and no connection event. */
async function expectRefused(url, what) {
  const s = track(await sseConnect(url, { headers: SSE_HEADERS }));
  assert.equal(s.status, 200, `${what}: a refused subscribe still answers 200 (${s.statusLine})`);
  assert.match(s.headers['content-type'] || '', /^text\/event-stream/, `${what}: as an event stream`);
  await s.waitEnd().catch((err) => {
    throw new Error(`${what}: ${err.message} (log so far: ${JSON.stringify(s.log.slice(0, 5))})`);
  });
  assert.ok(s.log.some((x) => x.kind === 'retry'), `${what}: a retry: line (log ${JSON.stringify(s.log)})`);
  assert.ok(s.retry >= RETRY_MS && s.retry <= 2 * RETRY_MS, `${what}: retry ${s.retry} within [${RETRY_MS}, ${2 * RETRY_MS}]`);
  assert.equal(s.events.some(isConnection), false, `${what}: no connection event`);
  assert.equal(s.events.length, 0, `${what}: no events at all (${s.events.map((e) => e.data.slice(0, 80))})`);
  assert.deepEqual(s.errors.filter((e) => !e.startsWith('socket:')), [], `${what}: well-formed`);
  return s;
}

/** Every subscriber in `subs` receives one new broadcast on `prefix`/`stream`. */
async function stillWorking(server, prefix, subsByStream) {
  for (const [stream, list] of subsByStream) {
    const m = marker();
    await broadcast(server.base, prefix, { stream_id: stream, type: 'probe', message: 'x', data: { marker: m } });
    await Promise.all(list.map((s) => s.nextEvent(hasMarker(m), { what: `probe on ${stream}` })));
    for (const s of list) assert.equal(s.closed, undefined, 'admitted subscriber still connected');
  }
}

test('max_connections: the (N+1)th SSE connection gets 200 + retry: and ends; the first N keep working', async () => {
  const N = 3;
  const server = await start(`limits:\n  max_connections: ${N}\n`);
  const url = (id) => `${server.base}${EVENTS}/stream/${id}`;
  const admitted = [await sub(url('lim-a')), await sub(url('lim-a')), await sub(url('lim-b'))];
  await expectRefused(url('lim-a'), 'over max_connections (same stream)');
  await expectRefused(url('lim-c'), 'over max_connections (another stream)');
  await stillWorking(server, EVENTS, [['lim-a', admitted.slice(0, 2)], ['lim-b', admitted.slice(2)]]);
  // Plain requests are not SSE connections: still answered.
  const res = await postJson(server.base, `${EVENTS}/broadcast`, { stream_id: 'lim-c', type: 't', message: 'm' });
  assert.equal(res.status, 200);
  // A slot freed is a slot again (the release is asynchronous: poll).
  await admitted[0].close();
  const again = await waitFor(async () => {
    const s = track(await sseConnect(url('lim-a'), { headers: SSE_HEADERS }));
    try {
      await s.nextEvent(isConnection, { timeout: 1000 });
      return s;
    } catch {
      s.close();
      return false;
    }
  }, 'a new subscriber admitted once one left');
  assert.equal(again.status, 200);
});

test('max_connections_per_ip: the (N+1)th from one address is refused, another address is not', async () => {
  const N = 2;
  const server = await start(`limits:\n  max_connections_per_ip: ${N}\n`);
  const url = (id) => `${server.base}${EVENTS}/stream/${id}`;
  const admitted = [await sub(url('ip-a')), await sub(url('ip-b'))];
  await expectRefused(url('ip-a'), 'over max_connections_per_ip');
  // 127.0.0.2 is another client address on the loopback.
  const other = await rawGet(server.port, `${EVENTS}/stream/ip-a`, { headers: SSE_HEADERS, localAddress: '127.0.0.2' });
  conns.add(other);
  await waitFor(() => other.utf8().includes('"type":"connection"') || other.closed,
    'the connection event for 127.0.0.2');
  assert.equal(other.closed, false, `127.0.0.2 admitted: ${other.utf8().slice(0, 400)}`);
  assert.equal(other.status(), 200);
  await stillWorking(server, EVENTS, [['ip-a', [admitted[0]]], ['ip-b', [admitted[1]]]]);
  await admitted[1].close();
  await waitFor(async () => {
    const s = track(await sseConnect(url('ip-b'), { headers: SSE_HEADERS }));
    try { await s.nextEvent(isConnection, { timeout: 1000 }); return true; } catch { s.close(); return false; }
  }, 'a new subscriber from 127.0.0.1 admitted once one left');
});

test('max_connections_per_stream: the (N+1)th on one stream is refused, other streams are not', async () => {
  const N = 2;
  const server = await start(`limits:\n  max_connections_per_stream: ${N}\n`);
  const url = (id) => `${server.base}${EVENTS}/stream/${id}`;
  const full = [await sub(url('ps-full')), await sub(url('ps-full'))];
  await expectRefused(url('ps-full'), 'over max_connections_per_stream');
  const other = await sub(url('ps-other'));
  await stillWorking(server, EVENTS, [['ps-full', full], ['ps-other', [other]]]);
  // Replay requests are limited the same way.
  const r = track(await sseConnect(url('ps-full'), { headers: { ...SSE_HEADERS, 'Last-Event-ID': '0' } }));
  await r.waitEnd();
  assert.equal(r.events.length, 0, `a refused resume gets no replay (${r.events.map((e) => e.data.slice(0, 60))})`);
  await full[0].close();
  await waitFor(async () => {
    const s = track(await sseConnect(url('ps-full'), { headers: SSE_HEADERS }));
    try { await s.nextEvent(isConnection, { timeout: 1000 }); return true; } catch { s.close(); return false; }
  }, 'a new subscriber admitted to ps-full once one left');
});

test('max_streams: a stream beyond the limit answers 503 unavailable to start and broadcast', async () => {
  // broadcast-demo alone: demo-notifications is stream 1 of 3.
  const server = await start('streams:\n  max_streams: 3\nservices:\n  service_g: false\n');
  for (const id of ['ms-1', 'ms-2']) {
    const res = await postJson(server.base, `${DEMO}/broadcast`, { stream_id: id, type: 't', message: 'm' });
    assert.equal(res.status, 200, `stream ${id} within the limit: ${res.text}`);
  }
  const checks = [
    ['start', () => postJson(server.base, `${DEMO}/stream/ms-4/start`, undefined)],
    ['broadcast', () => postJson(server.base, `${DEMO}/broadcast`, { stream_id: 'ms-4', type: 't', message: 'm' })],
  ];
  for (const [what, call] of checks) {
    const res = await call();
    assert.equal(res.status, 503, `${what} of a 4th stream: ${res.status} ${res.text}`);
    assert.equal(res.json && res.json.success, false, `${what}: envelope ${res.text}`);
    assert.equal(res.json.error && res.json.error.code, 'unavailable', `${what}: ${res.text}`);
    assert.equal(typeof res.json.error.message, 'string');
    assert.equal(typeof res.json.timestamp, 'number');
    assert.match(res.headers['content-type'] || '', /application\/json/);
  }
  // An SSE subscribe to a 4th stream is refused the EventSource way.
  await expectRefused(`${server.base}${DEMO}/stream/ms-4`, 'subscribe to a 4th stream');
  // Existing streams are unaffected.
  const s = await sub(`${server.base}${DEMO}/stream/ms-1`);
  await stillWorking(server, DEMO, [['ms-1', [s]]]);
  const res = await postJson(server.base, `${DEMO}/stream/ms-2/start`, undefined);
  assert.equal(res.status, 200, `start of an existing stream: ${res.text}`);
});

test('publish_rate 5/s, burst 5: the 6th rapid broadcast gets 429 rate_limited + Retry-After; ~1 s later 200', async (t) => {
  const server = await start('limits:\n  publish_rate: 5\n  publish_burst: 5\n');
  const s = await sub(`${server.base}${EVENTS}/stream/rate`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const results = [];
  try {
    for (let i = 0; i < 10; i++) {
      const m = marker();
      const res = await httpRequest(server.base, 'POST', `${EVENTS}/broadcast`, {
        body: { stream_id: 'rate', type: 'rate', message: 'x', data: { marker: m } }, agent,
      });
      results.push({ m, res, at: Date.now() });
    }
  } finally {
    agent.destroy();
  }
  const statuses = results.map((r) => r.res.status);
  t.diagnostic(`statuses: ${statuses.join(' ')} over ${results[9].at - results[0].at} ms`);
  assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200], 'the burst passes');
  const limited = results.filter((r) => r.res.status === 429);
  assert.ok(limited.length >= 3, `most of the next 5 are limited: ${statuses}`);
  assert.ok(statuses.every((x) => x === 200 || x === 429), `only 200 or 429: ${statuses}`);
  for (const { res } of limited) {
    assert.equal(res.json && res.json.success, false, res.text);
    assert.equal(res.json.error.code, 'rate_limited', res.text);
    assert.match(res.headers['retry-after'] || '', /^\d+$/, 'Retry-After in seconds');
    assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After ${res.headers['retry-after']}`);
  }
  // Another address has its own budget.
  const other = await httpRequest(server.base, 'POST', `${EVENTS}/broadcast`, {
    body: { stream_id: 'rate', type: 'rate', message: 'other address' }, localAddress: '127.0.0.2',
  });
  assert.equal(other.status, 200, `127.0.0.2 is not limited by 127.0.0.1's rate: ${other.text}`);
  // Refilled: within ~1 s broadcasts pass again.
  const t0 = Date.now();
  const okM = marker();
  await waitFor(async () => (await postJson(server.base, `${EVENTS}/broadcast`, {
    stream_id: 'rate', type: 'rate', message: 'x', data: { marker: okM },
  })).status === 200, 'a broadcast accepted again', { timeout: 1500, interval: 100 });
  t.diagnostic(`accepted again after ${Date.now() - t0} ms`);
  // Accepted broadcasts were delivered; limited ones never were.
  await s.nextEvent(hasMarker(okM));
  for (const r of results) {
    const got = s.events.some(hasMarker(r.m));
    assert.equal(got, r.res.status === 200, `${r.m} (${r.res.status}) delivered: ${got}`);
  }
});

test('client_ttl 2s: a stream ends after ~2 s with retry:, and the resumed client misses nothing', async (t) => {
  const server = await start('limits:\n  client_ttl: 2s\n');
  const stream = `ttl-${process.pid}`;
  const r = new Resumable(`${server.base}${EVENTS}/stream/${stream}`, { autoResume: true, maxResumes: 6 });
  resumables.add(r);
  await r.open();
  const pub = new NumberedPublisher(server.base, EVENTS, stream, { max: 1000, pauseMs: 40 });
  publishers.add(pub);
  pub.start();
  // Two expiries, each followed by a resume while publishing goes on.
  await waitFor(() => r.conns.length >= 3 && r.current.events.some(isConnection) && r.pending,
    'two TTL expiries and resumes', { timeout: 3 * DEADLINE_MS, interval: 50 });
  await r.pending;
  await pub.waitAcked(pub.acked.length + 10);
  await pub.stop();
  assert.deepEqual(pub.errors, []);
  const total = pub.acked.length;
  await waitFor(() => r.lastId() === String(total), `event ${total} at the resumed client`);
  assert.deepEqual(r.failures, []);
  const got = r.received();
  assert.equal(checkConsecutive(got, 1, total), null, checkConsecutive(got, 1, total));
  assert.deepEqual(r.unsequenced().filter((e) => !isConnection(e)).map((e) => e.data), [], 'no events_missed');
  const ended = r.conns.filter((c) => c.closedAt !== undefined && !c.cutByUs);
  assert.ok(ended.length >= 2, `${ended.length} streams ended by the server`);
  for (const c of ended) {
    const life = c.closedAt - c.openedAt;
    const lastLog = c.log[c.log.length - 1];
    t.diagnostic(`a stream lived ${life} ms; it ended with ${JSON.stringify(lastLog)}`);
    assert.ok(life >= 1800 && life <= 3500, `stream lifetime ${life} ms for a 2 s TTL`);
    assert.equal(lastLog.kind, 'retry', `the stream ends with a retry: line (${JSON.stringify(c.log.slice(-3))})`);
    assert.ok(lastLog.value >= RETRY_MS && lastLog.value <= 2 * RETRY_MS, `retry ${lastLog.value}`);
    assert.equal(c.ended, true, 'a clean end of the chunked body');
  }
});

// -- slow requests -------------------------------------------------------------

/** Connects, then writes `text` one byte every `gapMs` until it ends or the server closes. */
function trickle(port, prefix, text, gapMs) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      let received = '';
      let i = 0;
      let closed = false;
      let timer;
      let t0;
      socket.on('data', (d) => { received += d.toString('latin1'); });
      socket.on('error', () => { /* reset counts as closed */ });
      socket.once('close', () => {
        closed = true;
        clearTimeout(timer);
        resolve({ afterMs: Date.now() - t0, sent: i, received });
      });
      const step = () => {
        if (closed) return;
        if (i >= text.length) { resolve({ afterMs: null, sent: i, received, socket }); return; }
        socket.write(text[i++], 'latin1');
        timer = setTimeout(step, gapMs);
      };
      if (prefix) socket.write(prefix, 'latin1');
      t0 = Date.now();
      step();
    });
    socket.once('error', reject);
  });
}

test('header_timeout 1s: request line and headers trickled 1 byte / 300 ms are cut within ~3 s', async (t) => {
  const server = await start('server:\n  header_timeout: 1s\n');
  const s = await sub(`${server.base}${EVENTS}/stream/slow`);
  const head = 'POST /api/v1/events/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n' +
    'Content-Type: application/json\r\nContent-Length: 50\r\n\r\n';
  const r = await trickle(server.port, '', head, 300);
  if (r.socket) r.socket.destroy();
  t.diagnostic(`closed after ${r.afterMs} ms, ${r.sent} of ${head.length} bytes sent; answer ${JSON.stringify(r.received.slice(0, 60))}`);
  assert.notEqual(r.afterMs, null, `the server never closed a head trickled over ${head.length * 0.3} s`);
  assert.ok(r.afterMs <= 3500, `closed after ${r.afterMs} ms`);
  assert.doesNotMatch(r.received, /^HTTP\/1\.[01] 2/, 'no success answer');
  assert.equal(server.alive(), true);
  await stillWorking(server, EVENTS, [['slow', [s]]]);
});

test('body_timeout 1s: a body trickled 1 byte / 300 ms is cut within ~3 s and never published', async (t) => {
  const server = await start('server:\n  body_timeout: 1s\n');
  const s = await sub(`${server.base}${EVENTS}/stream/slowbody`);
  let body = JSON.stringify({ stream_id: 'slowbody', type: 'trickled', message: 'x' });
  body = body.slice(0, -1) + ',"p":"' + 'y'.repeat(Math.max(0, 60 - body.length - 7)) + '"}';
  const head = `POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`;
  JSON.parse(body);
  const r = await trickle(server.port, head, body, 300);
  if (r.socket) r.socket.destroy();
  t.diagnostic(`closed after ${r.afterMs} ms, ${r.sent} of ${body.length} body bytes sent; answer ${JSON.stringify(r.received.slice(0, 60))}`);
  assert.notEqual(r.afterMs, null, `the server never cut a body trickled over ${body.length * 0.3} s`);
  assert.ok(r.afterMs <= 3500, `cut after ${r.afterMs} ms`);
  assert.doesNotMatch(r.received, /^HTTP\/1\.[01] 2/, 'no success answer');
  await stillWorking(server, EVENTS, [['slowbody', [s]]]);
  assert.equal(s.events.some((e) => e.json && e.json.type === 'trickled'), false, 'the cut body was not published');
  await observe(100);
});
