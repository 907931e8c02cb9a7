// The SSE wire format and delivery: headers, retry + connection first, id/data
// framing, per-stream ids, fan-out, namespaces, heartbeats, and timeouts that
// cut slow requests but never a live stream.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, broadcast, streamsOf, sseConnect, subscribe, rawConnect,
  observe, DEADLINE_MS, EVENTS, DEMO,
} from './harness.mjs';

let server; // default configuration
let quick; // short heartbeat and HTTP timeouts
const open = [];

before(async () => {
  [server, quick] = await Promise.all([
    startServer(),
    startServer({
      config: [
        'sse:',
        '  heartbeat_interval: 300ms',
        '  retry: 1s',
        'server:',
        '  header_timeout: 1s',
        '  body_timeout: 1s',
        '  keepalive_timeout: 1s',
        '',
      ].join('\n'),
    }),
  ]);
});

after(async () => {
  for (const s of open) s.close();
  await Promise.all([server, quick].filter(Boolean).map((s) => s.stop()));
});

const track = (s) => { open.push(s); return s; };
const sub = async (srv, prefix, id) => track(await subscribe(`${srv.base}${prefix}/stream/${id}`));
let seq = 0;
const marker = () => `sse${process.pid}-${++seq}`;
const hasMarker = (m) => (e) => e.json && e.json.data && e.json.data.marker === m;

test('SSE response headers', async () => {
  const s = track(await sseConnect(`${server.base}${EVENTS}/stream/default`, {
    headers: { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' },
  }));
  assert.equal(s.status, 200, s.statusLine);
  assert.match(s.headers['content-type'] || '', /^text\/event-stream/);
  assert.equal(s.headers['cache-control'], 'no-cache');
  assert.match(s.headers.connection || '', /^keep-alive$/i);
  assert.equal(s.headers['access-control-allow-origin'], '*');
  assert.match(s.headers['access-control-allow-headers'] || '', /(^|[\s,])cache-control([\s,]|$)/i);
  assert.equal(s.headers['x-accel-buffering'], 'no');
  assert.equal(s.headers['content-length'], undefined, 'a stream has no Content-Length');
  await s.close();
});

test('retry first, then a connection event without id', async () => {
  for (const [srv, retry] of [[server, null], [quick, 1000]]) {
    const s = track(await sseConnect(`${srv.base}${EVENTS}/stream/system`));
    const conn = await s.nextEvent((e) => e.json && e.json.type === 'connection');
    assert.equal(s.log[0].kind, 'retry', `first field is retry: ${JSON.stringify(s.log[0])}`);
    if (retry !== null) assert.equal(s.log[0].value, retry, 'retry from sse.retry');
    else assert.ok(s.log[0].value > 0, 'positive retry');
    assert.equal(s.events[0], conn, 'connection is the first event');
    assert.equal(conn.id, null, 'the connection event has no id field');
    assert.equal(conn.event, undefined, 'no event: field');
    assert.equal(conn.json.stream_id, 'system');
    assert.equal(s.errors.length, 0, s.errors.join('; '));
    await s.close();
  }
});

test('events: id = per-stream sequence, data = EventData JSON, no event field', async () => {
  const s = await sub(server, EVENTS, `framing-${process.pid}`);
  const ms = [marker(), marker(), marker(), marker(), marker()];
  for (const m of ms) {
    await broadcast(server.base, EVENTS, {
      stream_id: `framing-${process.pid}`, type: 'framing', message: 'line1\nline2 "quoted" ü', data: { marker: m, nested: { a: [1, 2] } },
    });
  }
  const evs = await s.waitEvents(5, (e) => e.json && e.json.type === 'framing');
  let prev = -1;
  evs.forEach((e, i) => {
    assert.match(e.id, /^\d+$/, `id ${e.id} is a sequence number`);
    assert.ok(Number(e.id) > prev, `ids increase: ${prev} then ${e.id}`);
    prev = Number(e.id);
    assert.equal(e.event, undefined, 'no event: field');
    assert.equal(e.json.message, 'line1\nline2 "quoted" ü');
    assert.deepEqual(e.json.data, { marker: ms[i], nested: { a: [1, 2] } }, 'in publish order');
    assert.equal(e.json.stream_id, `framing-${process.pid}`);
    assert.match(e.json.id, /^evt_/);
  });
  assert.equal(new Set(evs.map((e) => e.json.id)).size, 5, 'event ids are unique');
  assert.equal(s.errors.length, 0, s.errors.join('; '));
  await s.close();
});

test('ids strictly increase per stream, across generated and broadcast events', async () => {
  const s = await sub(server, EVENTS, 'default');
  for (let i = 0; i < 5; i++) {
    await broadcast(server.base, EVENTS, { stream_id: 'default', type: 'seq', message: `n${i}` });
  }
  await s.waitEvents(5, (e) => e.json && e.json.type === 'seq');
  await s.waitEvents(1, (e) => e.json && !['seq', 'connection'].includes(e.json.type), { what: 'a generated event' });
  const ids = s.events.filter((e) => e.id !== null).map((e) => Number(e.id));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids ${ids.join(',')}`);
  // Another stream has its own sequence.
  const t = await sub(server, EVENTS, `seq-other-${process.pid}`);
  await broadcast(server.base, EVENTS, { stream_id: `seq-other-${process.pid}`, type: 'seq', message: 'x' });
  const e = await t.nextEvent((x) => x.json && x.json.type === 'seq');
  assert.match(e.id, /^\d+$/);
  await Promise.all([s.close(), t.close()]);
});

test('two subscribers get the same broadcast with the same id', async () => {
  const [a, b] = await Promise.all([sub(server, EVENTS, 'notifications'), sub(server, EVENTS, 'notifications')]);
  const m = marker();
  await broadcast(server.base, EVENTS, { stream_id: 'notifications', type: 'same', message: 'x', data: { marker: m } });
  const [ea, eb] = await Promise.all([a.nextEvent(hasMarker(m)), b.nextEvent(hasMarker(m))]);
  assert.equal(ea.id, eb.id);
  assert.equal(ea.data, eb.data, 'byte-identical data');
  await Promise.all([a.close(), b.close()]);
});

test('broadcast to all reaches every stream of its instance only', async () => {
  const ids = ['default', 'system', 'user-activity', 'notifications'];
  const subs = await Promise.all(ids.map((id) => sub(server, EVENTS, id)));
  const demo = await sub(server, DEMO, 'demo-notifications');
  const m = marker();
  const res = await broadcast(server.base, EVENTS, { type: 'everyone', message: 'all', data: { marker: m } });
  assert.equal(res.json.message, 'Event broadcasted to all streams');
  const got = await Promise.all(subs.map((s) => s.nextEvent(hasMarker(m))));
  got.forEach((e, i) => {
    assert.equal(e.json.stream_id, ids[i]);
    assert.match(e.id, /^\d+$/);
  });
  // A later event on the other instance arrives; the first one never did.
  const m2 = marker();
  await broadcast(server.base, DEMO, { type: 'demo_only', message: 'x', data: { marker: m2 } });
  await demo.nextEvent(hasMarker(m2));
  assert.equal(demo.events.some(hasMarker(m)), false, 'events broadcast-to-all leaked into broadcast-demo');
  assert.equal(subs.some((s) => s.events.some(hasMarker(m2))), false, 'broadcast-demo broadcast leaked into events');
  await Promise.all([...subs, demo].map((s) => s.close()));
});

test('instances have separate namespaces for the same stream id', async () => {
  const ev = await sub(server, EVENTS, 'default');
  const dm = await sub(server, DEMO, 'default');
  const m = marker();
  await broadcast(server.base, DEMO, { stream_id: 'default', type: 'ns', message: 'x', data: { marker: m } });
  const got = await dm.nextEvent(hasMarker(m));
  assert.equal(got.json.stream_id, 'default');
  const m2 = marker();
  await broadcast(server.base, EVENTS, { stream_id: 'default', type: 'ns', message: 'y', data: { marker: m2 } });
  await ev.nextEvent(hasMarker(m2));
  assert.equal(ev.events.some(hasMarker(m)), false, 'broadcast-demo/default leaked into events/default');
  const demoStreams = await streamsOf(server.base, DEMO);
  assert.ok(demoStreams.default, 'broadcast-demo has its own default stream now');
  assert.equal(demoStreams.default.generator.running, false, 'without the events generator');
  assert.equal(demoStreams.system, undefined);
  await Promise.all([ev.close(), dm.close()]);
});

test('heartbeat comments on an idle connection (heartbeat_interval: 300ms)', async () => {
  const s = await sub(quick, EVENTS, `idle-${process.pid}`);
  const from = s.comments.length;
  const t0 = Date.now();
  const end = t0 + DEADLINE_MS;
  await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (s.comments.length - from >= 3) { clearInterval(timer); resolve(); }
      else if (s.closed || Date.now() > end) {
        clearInterval(timer);
        reject(new Error(`got ${s.comments.length - from} heartbeat comments in ${Date.now() - t0} ms`));
      }
    }, 20);
  });
  // 3 comments at 300 ms need about 0.9 s; allow generous scheduling slack.
  assert.ok(Date.now() - t0 < 3000, `3 heartbeats took ${Date.now() - t0} ms`);
  assert.equal(s.events.length, 1, 'heartbeats are comments, not events');
  await s.close();
});

test('a stream outlives header/body/keepalive timeouts, a slow-header request is cut', async () => {
  const id = `long-${process.pid}`;
  const s = await sub(quick, EVENTS, id);
  const slow = await rawConnect(quick.port, `GET ${EVENTS}/streams HTTP/1.1\r\nHost: x\r\n`);
  // Cut within ~3 s (header_timeout 1 s plus the server's check granularity).
  const cutAfter = await Promise.race([slow.closedAt, observe(3500).then(() => null)]);
  slow.socket.destroy();
  assert.notEqual(cutAfter, null, 'the stalled request was not closed within 3.5 s');
  // The stream has been open for longer than every timeout; wait past 4 s.
  await observe(Math.max(0, 4000 - cutAfter));
  assert.equal(s.closed, undefined, 'the SSE connection is still open');
  const m = marker();
  await broadcast(quick.base, EVENTS, { stream_id: id, type: 'late', message: 'x', data: { marker: m } });
  await s.nextEvent(hasMarker(m), { what: 'a broadcast after 4 s' });
  assert.equal(s.errors.length, 0, `stream stayed well-formed: ${s.errors.join('; ')}`);
  assert.ok(!/HTTP\/1\.1 408/.test(s.comments.join('\n')), 'no 408 inside the stream');
  await s.close();
});
