// The REST API of both service instances: every endpoint, response shapes,
// the API document's curl lines as literal requests, default streams,
// generator lifecycle (pause/resume/stop/start) and client counts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, request, getJson, postJson, broadcast, streamsOf, clientsOf,
  sseConnect, subscribe, waitFor, observe, nowSec, DEADLINE_MS, EVENTS, DEMO,
} from './harness.mjs';

let server;
let base;
const open = [];

before(async () => {
  server = await startServer();
  base = server.base;
});

after(async () => {
  for (const s of open) s.close();
  if (server) await server.stop();
});

const track = (s) => { open.push(s); return s; };
const sub = async (prefix, id) => track(await subscribe(`${base}${prefix}/stream/${id}`));

// Events the generators make, as opposed to what the tests broadcast.
const generated = (e) => e.json && e.id !== null && !['connection', 'stream_started'].includes(e.json.type)
  && !(e.json.data && 'marker' in e.json.data);

function assertTimestamp(ts, what) {
  assert.ok(Number.isInteger(ts), `${what}: timestamp ${ts} is an integer`);
  assert.ok(Math.abs(ts - nowSec()) < 120, `${what}: timestamp ${ts} is Unix seconds now`);
}

function assertOk(res, message, what) {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text}`);
  assert.match(res.headers['content-type'] || '', /application\/json/, `${what}: content type`);
  assert.equal(res.headers['access-control-allow-origin'], '*', `${what}: CORS header`);
  assert.equal(res.json.success, true, `${what}: success`);
  if (message !== undefined) assert.equal(res.json.message, message, `${what}: message`);
  assertTimestamp(res.json.timestamp, what);
}

function assertStreamInfo(info, what) {
  assert.ok(info, `${what}: present`);
  assert.ok(Number.isInteger(info.clients) && info.clients >= 0, `${what}: clients ${info.clients}`);
  assert.equal(typeof info.active, 'boolean', `${what}: active`);
  assert.equal(typeof info.generator, 'object', `${what}: generator`);
  assert.equal(typeof info.generator.running, 'boolean', `${what}: generator.running`);
  assert.equal(typeof info.generator.paused, 'boolean', `${what}: generator.paused`);
}

// The document's generator fields; additive fields may exist.
const gen = (g) => ({ running: g.running, paused: g.paused });

let markerSeq = 0;
const marker = () => `m${process.pid}-${++markerSeq}`;

test('GET /api/v1/events/streams: the four default streams, running', async () => {
  const res = await getJson(base, `${EVENTS}/streams`);
  assertOk(res, undefined, 'events/streams');
  const data = res.json.data;
  for (const id of ['default', 'system', 'user-activity', 'notifications']) {
    assertStreamInfo(data[id], `events stream ${id}`);
    assert.equal(data[id].active, true, `${id} active`);
    assert.deepEqual(gen(data[id].generator), { running: true, paused: false }, `${id} generator`);
  }
  assert.equal(data['demo-notifications'], undefined, 'demo stream is not in the events namespace');
});

test('GET /api/v1/broadcast-demo/streams: demo-notifications, running', async () => {
  const res = await getJson(base, `${DEMO}/streams`);
  assertOk(res, undefined, 'broadcast-demo/streams');
  const data = res.json.data;
  assertStreamInfo(data['demo-notifications'], 'demo-notifications');
  assert.deepEqual(gen(data['demo-notifications'].generator), { running: true, paused: false });
  for (const id of ['system', 'user-activity', 'notifications']) {
    assert.equal(data[id], undefined, `${id} is not in the broadcast-demo namespace`);
  }
});

test('every default stream delivers generated events', async () => {
  const ids = [[EVENTS, 'default'], [EVENTS, 'system'], [EVENTS, 'user-activity'],
    [EVENTS, 'notifications'], [DEMO, 'demo-notifications']];
  const subs = await Promise.all(ids.map(([p, id]) => sub(p, id)));
  const got = await Promise.all(subs.map((s) => s.nextEvent(generated, { what: 'a generated event' })));
  got.forEach((e, i) => {
    assert.equal(e.json.stream_id, ids[i][1]);
    assert.match(e.json.id, /^evt_/);
    assert.equal(typeof e.json.type, 'string');
    assert.equal(typeof e.json.message, 'string');
    assertTimestamp(e.json.timestamp, `event on ${ids[i][1]}`);
  });
  const systemEv = await subs[1].nextEvent(generated);
  assert.ok(['metric_update', 'system_alert'].includes(systemEv.json.type), `system event type ${systemEv.json.type}`);
  await Promise.all(subs.map((s) => s.close()));
});

test("the document's curl lines, literally", async (t) => {
  const curlHeaders = { 'User-Agent': 'curl/7.88.1', Accept: '*/*' };

  await t.test('curl -N -H "Accept: text/event-stream" -H "Cache-Control: no-cache" .../events/stream/default', async () => {
    const s = track(await sseConnect(`${base}${EVENTS}/stream/default`, {
      headers: { ...curlHeaders, Accept: 'text/event-stream', 'Cache-Control': 'no-cache' },
    }));
    assert.equal(s.status, 200);
    const ev = await s.nextEvent((e) => e.json && e.json.type === 'connection');
    assert.equal(ev.json.stream_id, 'default');
    await s.close();
  });

  await t.test('curl -N .../broadcast-demo/stream/demo-notifications', async () => {
    const s = track(await sseConnect(`${base}${DEMO}/stream/demo-notifications`, { headers: curlHeaders }));
    assert.equal(s.status, 200);
    const ev = await s.nextEvent((e) => e.json && e.json.type === 'connection');
    assert.equal(ev.json.stream_id, 'demo-notifications');
    await s.close();
  });

  await t.test('curl .../events/streams and .../broadcast-demo/streams', async () => {
    assertOk(await request(base, 'GET', `${EVENTS}/streams`, { headers: curlHeaders }), undefined, 'events');
    assertOk(await request(base, 'GET', `${DEMO}/streams`, { headers: curlHeaders }), undefined, 'demo');
  });

  await t.test('curl -X POST .../stream/custom/start, stop, pause', async () => {
    const watcher = await sub(EVENTS, 'custom');
    assertOk(await request(base, 'POST', `${EVENTS}/stream/custom/start`, { headers: curlHeaders }),
      "Stream 'custom' started", 'start custom');
    assertOk(await request(base, 'POST', `${EVENTS}/stream/custom/stop`, { headers: curlHeaders }),
      "Stream 'custom' stopped and removed", 'stop custom');
    const pause = await request(base, 'POST', `${EVENTS}/stream/custom/pause`, { headers: curlHeaders });
    assert.equal(pause.status, 409, `pause after stop: ${pause.text}`);
    assert.equal(pause.json.success, false);
    await watcher.close();
  });

  await t.test('curl broadcast to a specific stream (the document body, verbatim)', async () => {
    const s = await sub(EVENTS, 'default');
    const body = `{
    "stream_id": "default",
    "type": "test_event",
    "message": "Test message",
    "data": {"test": true}
  }`;
    const res = await request(base, 'POST', `${EVENTS}/broadcast`, {
      body, headers: { ...curlHeaders, 'Content-Type': 'application/json' },
    });
    assertOk(res, 'Event broadcasted to stream: default', 'broadcast default');
    const ev = await s.nextEvent((e) => e.json && e.json.type === 'test_event');
    assert.equal(ev.json.message, 'Test message');
    assert.deepEqual(ev.json.data, { test: true });
    assert.equal(ev.json.stream_id, 'default');
    await s.close();
  });

  await t.test('curl broadcast to all streams (the document body, verbatim)', async () => {
    const s = await sub(EVENTS, 'system');
    const body = `{
    "type": "global_test",
    "message": "Global test message"
  }`;
    const res = await request(base, 'POST', `${EVENTS}/broadcast`, {
      body, headers: { ...curlHeaders, 'Content-Type': 'application/json' },
    });
    assertOk(res, 'Event broadcasted to all streams', 'broadcast all');
    const ev = await s.nextEvent((e) => e.json && e.json.type === 'global_test');
    assert.equal(ev.json.message, 'Global test message');
    assert.equal(ev.json.stream_id, 'system');
    assert.equal('data' in ev.json, false, 'data omitted when empty');
    await s.close();
  });

  await t.test('curl "Hello from Service G/H" broadcasts to both instances', async () => {
    const s = await sub(DEMO, 'demo-notifications');
    assertOk(await request(base, 'POST', `${EVENTS}/broadcast`, {
      body: '{"type":"test","message":"Hello from Service G"}',
      headers: { ...curlHeaders, 'Content-Type': 'application/json' },
    }), 'Event broadcasted to all streams', 'service G');
    assertOk(await request(base, 'POST', `${DEMO}/broadcast`, {
      body: '{"type":"test","message":"Hello from Service H"}',
      headers: { ...curlHeaders, 'Content-Type': 'application/json' },
    }), 'Event broadcasted to all streams', 'service H');
    const ev = await s.nextEvent((e) => e.json && e.json.message === 'Hello from Service H');
    assert.equal(ev.json.stream_id, 'demo-notifications');
    assert.equal(s.events.some((e) => e.json && e.json.message === 'Hello from Service G'), false,
      'the events instance broadcast did not reach broadcast-demo');
    await s.close();
  });
});

test('POST broadcast: the document request body and response shape', async () => {
  const s = await sub(EVENTS, 'notifications');
  const m = marker();
  const res = await postJson(base, `${EVENTS}/broadcast`, {
    stream_id: 'notifications',
    type: 'custom_event',
    message: 'Custom notification message',
    data: { priority: 'high', sender: 'admin', recipients: ['user1', 'user2'], marker: m },
  });
  assertOk(res, 'Event broadcasted to stream: notifications', 'broadcast');
  const ev = await s.nextEvent((e) => e.json && e.json.data && e.json.data.marker === m);
  assert.equal(ev.json.type, 'custom_event');
  assert.equal(ev.json.message, 'Custom notification message');
  assert.deepEqual(ev.json.data, { priority: 'high', sender: 'admin', recipients: ['user1', 'user2'], marker: m });
  assert.equal(ev.json.stream_id, 'notifications');
  assert.match(ev.json.id, /^evt_/);
  assertTimestamp(ev.json.timestamp, 'event');
  assert.deepEqual(Object.keys(ev.json).sort(), ['data', 'id', 'message', 'stream_id', 'timestamp', 'type']);

  // stream_id "" broadcasts to all, as a missing stream_id does.
  const all = await postJson(base, `${EVENTS}/broadcast`, { stream_id: '', type: 'to_all', message: 'x', data: { marker: m } });
  assertOk(all, 'Event broadcasted to all streams', 'empty stream_id');
  await s.nextEvent((e) => e.json && e.json.type === 'to_all');

  // The broadcast-demo instance takes the same body.
  const demo = await postJson(base, `${DEMO}/broadcast`, { stream_id: 'demo-notifications', type: 't', message: 'm' });
  assertOk(demo, 'Event broadcasted to stream: demo-notifications', 'demo broadcast');
  await s.close();
});

test('pause, resume, stop and start of the default generator', async (t) => {
  const prefix = EVENTS;
  const s = await sub(prefix, 'default');
  const info = async () => (await streamsOf(base, prefix)).default;
  const action = (a) => postJson(base, `${prefix}/stream/default/${a}`, undefined);

  await t.test('running: generated events arrive', async () => {
    await s.nextEvent(generated, { what: 'a generated event' });
  });

  await t.test('pause: 200, paused, no generated events while paused', async () => {
    assertOk(await action('pause'), "Stream 'default' paused", 'pause');
    assert.deepEqual(gen((await info()).generator), { running: true, paused: true });
    // A broadcast after the pause reply is ordered after anything the
    // generator produced before it paused; only what follows it counts.
    const m = marker();
    await broadcast(base, prefix, { stream_id: 'default', type: 'pause_marker', message: 'm', data: { marker: m } });
    const mk = await s.nextEvent((e) => e.json && e.json.data && e.json.data.marker === m);
    const from = s.events.indexOf(mk) + 1;
    await observe(4500); // more than two generator intervals (2 s)
    const leaked = s.events.slice(from).filter(generated);
    assert.deepEqual(leaked.map((e) => e.json.type), [], 'no generated events while paused');
    const again = await action('pause');
    assert.equal(again.status, 409, `pause when paused: ${again.text}`);
    assert.equal(again.json.success, false);
  });

  await t.test('resume: 200, generated events again', async () => {
    const from = s.events.length;
    assertOk(await action('resume'), "Stream 'default' resumed", 'resume');
    assert.deepEqual(gen((await info()).generator), { running: true, paused: false });
    await s.nextEvent(generated, { from, what: 'a generated event after resume' });
    const again = await action('resume');
    assert.equal(again.status, 409, `resume when not paused: ${again.text}`);
  });

  await t.test('stop: removed, subscriber stays and still gets broadcasts', async () => {
    assertOk(await action('stop'), "Stream 'default' stopped and removed", 'stop');
    const i = await info();
    assert.ok(i, 'stream still listed while it has subscribers');
    assert.equal(i.generator.running, false);
    assert.equal(i.clients >= 1, true, `clients ${i.clients}`);
    const m = marker();
    await broadcast(base, prefix, { stream_id: 'default', type: 'after_stop', message: 'm', data: { marker: m } });
    const mk = await s.nextEvent((e) => e.json && e.json.data && e.json.data.marker === m);
    assert.equal(s.closed, undefined, 'subscriber still connected');
    for (const a of ['pause', 'resume', 'stop']) {
      const r = await action(a);
      assert.equal(r.status, 409, `${a} without a generator: ${r.status} ${r.text}`);
      assert.equal(r.json.success, false);
    }
    const from = s.events.indexOf(mk) + 1;
    await observe(3000);
    assert.deepEqual(s.events.slice(from).filter(generated).map((e) => e.json.type), [],
      'no generated events after stop');
  });

  await t.test('start: stream_started delivered, generator running again', async () => {
    const from = s.events.length;
    assertOk(await action('start'), "Stream 'default' started", 'start');
    const started = await s.nextEvent((e) => e.json && e.json.type === 'stream_started', { from });
    assert.equal(started.json.stream_id, 'default');
    assert.deepEqual(gen((await info()).generator), { running: true, paused: false });
    await s.nextEvent(generated, { from, what: 'a generated event after start' });
  });

  await t.test('start on a running stream restarts it', async () => {
    const from = s.events.length;
    assertOk(await action('start'), "Stream 'default' started", 'restart');
    await s.nextEvent((e) => e.json && e.json.type === 'stream_started', { from });
    assert.deepEqual(gen((await info()).generator), { running: true, paused: false });
  });

  await s.close();
});

test('pause and resume on the broadcast-demo instance', async () => {
  const act = (a) => postJson(base, `${DEMO}/stream/demo-notifications/${a}`, undefined);
  assertOk(await act('pause'), "Stream 'demo-notifications' paused", 'pause demo');
  assert.deepEqual(gen((await streamsOf(base, DEMO))['demo-notifications'].generator), { running: true, paused: true });
  // The events instance is not affected.
  assert.deepEqual(gen((await streamsOf(base, EVENTS)).notifications.generator), { running: true, paused: false });
  assertOk(await act('resume'), "Stream 'demo-notifications' resumed", 'resume demo');
  assert.deepEqual(gen((await streamsOf(base, DEMO))['demo-notifications'].generator), { running: true, paused: false });
});

test('start creates an unknown stream with a generic generator', async () => {
  const id = `fresh-${process.pid}`;
  const s = await sub(EVENTS, id); // subscribing first: the stream exists, no generator
  const before = (await streamsOf(base, EVENTS))[id];
  assert.ok(before, 'subscribed stream is listed');
  assert.equal(before.generator.running, false);
  const pause = await postJson(base, `${EVENTS}/stream/${id}/pause`, undefined);
  assert.equal(pause.status, 409, `pause without generator: ${pause.text}`);

  assertOk(await postJson(base, `${EVENTS}/stream/${id}/start`, undefined), `Stream '${id}' started`, 'start');
  await s.nextEvent((e) => e.json && e.json.type === 'stream_started');
  const ev = await s.nextEvent(generated, { what: 'a generic generated event' });
  assert.equal(ev.json.stream_id, id);

  // A stream nobody subscribed to yet is created by start as well.
  const other = `created-${process.pid}`;
  assertOk(await postJson(base, `${EVENTS}/stream/${other}/start`, undefined), `Stream '${other}' started`, 'start new');
  const info = (await streamsOf(base, EVENTS))[other];
  assertStreamInfo(info, other);
  assert.deepEqual(gen(info.generator), { running: true, paused: false });
  assertOk(await postJson(base, `${EVENTS}/stream/${other}/stop`, undefined), `Stream '${other}' stopped and removed`, 'stop new');
  // Streams of one instance are not visible in the other.
  assert.equal((await streamsOf(base, DEMO))[other], undefined);
  await s.close();
});

test('stop, pause and resume on an unknown stream are 404', async () => {
  for (const prefix of [EVENTS, DEMO]) {
    for (const a of ['stop', 'pause', 'resume']) {
      const r = await postJson(base, `${prefix}/stream/no-such-stream-${process.pid}/${a}`, undefined);
      assert.equal(r.status, 404, `${prefix} ${a}: ${r.status} ${r.text}`);
      assert.equal(r.json.success, false);
      assert.equal(typeof r.json.error.code, 'string');
    }
  }
});

test('client counts go up and down', async () => {
  const id = 'user-activity';
  const base0 = await clientsOf(base, EVENTS, id);
  const subs = await Promise.all([1, 2, 3].map(() => subscribe(`${base}${EVENTS}/stream/${id}`)));
  subs.forEach(track);
  await waitFor(async () => (await clientsOf(base, EVENTS, id)) === base0 + 3, `${id} clients = ${base0 + 3}`);
  const demo0 = await clientsOf(base, DEMO, 'demo-notifications');
  const d = track(await subscribe(`${base}${DEMO}/stream/demo-notifications`));
  await waitFor(async () => (await clientsOf(base, DEMO, 'demo-notifications')) === demo0 + 1, 'demo clients + 1');
  assert.equal(await clientsOf(base, EVENTS, id), base0 + 3, 'the other instance is counted apart');

  await subs[0].close();
  await subs[1].close();
  // A client that closes is no longer counted within 2 s.
  await waitFor(async () => (await clientsOf(base, EVENTS, id)) === base0 + 1, `${id} clients = ${base0 + 1}`,
    { timeout: Math.min(2000, DEADLINE_MS) });
  await subs[2].close();
  await d.close();
  await waitFor(async () => (await clientsOf(base, EVENTS, id)) === base0, `${id} clients back to ${base0}`,
    { timeout: Math.min(2000, DEADLINE_MS) });
  await waitFor(async () => (await clientsOf(base, DEMO, 'demo-notifications')) === demo0, 'demo clients back',
    { timeout: Math.min(2000, DEADLINE_MS) });
});
