// Resume with Last-Event-ID: a subscriber killed mid-stream comes back and has
// every event exactly once, in order; 1,000 subscribers cut at once all do
// too; and a gap wider than the history ring (or an id the stream never gave)
// is announced by an `events_missed` event before what the ring still holds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, sseConnect, broadcast, waitFor, pool, observe, DEADLINE_MS, EVENTS,
} from './harness.mjs';
import {
  Resumable, NumberedPublisher, checkConsecutive, isConnection, SSE_HEADERS,
} from './clients.mjs';

let server; // defaults: history of 1000 events
let small; // sse.history_size: 10
const subs = new Set();
const publishers = new Set();

before(async () => {
  [server, small] = await Promise.all([
    startServer(),
    startServer({ config: 'sse:\n  history_size: 10\n' }),
  ]);
});

after(async () => {
  for (const p of publishers) await p.stop();
  for (const s of subs) await s.close();
  await Promise.all([server, small].filter(Boolean).map((s) => s.stop()));
});

const tag = `${process.pid}`;
const track = (s) => { subs.add(s); return s; };
const publisher = (...args) => { const p = new NumberedPublisher(...args); publishers.add(p); return p; };

/** The `n` of each received event, for "n consecutive" checks. */
const ns = (events) => events.map((e) => (e.json && e.json.data ? e.json.data.n : undefined));

test('a subscriber killed mid-stream resumes with Last-Event-ID: every event once, in order', async (t) => {
  const stream = `replay-kill-${tag}`;
  const url = `${server.base}${EVENTS}/stream/${stream}`;
  const sub = track(new Resumable(url));
  await sub.open();

  const TOTAL = 400;
  const pub = publisher(server.base, EVENTS, stream, { max: TOTAL });
  pub.start();

  // Three kills, each while the publisher is going; the subscriber stays away
  // until at least 15 more events were published, so every resume replays.
  for (const at of [60, 160, 260]) {
    await waitFor(() => sub.count() >= at, `${at} events before the kill`);
    sub.cut();
    const lastSeen = Number(sub.lastId());
    await waitFor(() => pub.acked.length >= lastSeen + 15 || !pub.running,
      `15 events published while the subscriber is away (acked ${pub.acked.length})`);
    await sub.open();
  }
  await pub.done;
  assert.deepEqual(pub.errors, [], 'publisher errors');
  assert.equal(pub.acked.length, TOTAL);
  assert.deepEqual(pub.acked.map((a) => a.seq), pub.acked.map((a) => a.n), 'a fresh stream numbers 1, 2, 3...');

  await waitFor(() => sub.lastId() === String(TOTAL), `event ${TOTAL} at the subscriber (last ${sub.lastId()})`);
  const got = sub.received();
  assert.equal(checkConsecutive(got, 1, TOTAL), null, checkConsecutive(got, 1, TOTAL));
  assert.deepEqual(ns(got), Array.from({ length: TOTAL }, (_, i) => i + 1), 'n consecutive');
  assert.equal(sub.conns.length, 4, 'four connections');
  const missed = sub.unsequenced().filter((e) => !isConnection(e));
  assert.deepEqual(missed.map((e) => e.data), [], 'no events_missed when history holds the gap');
  for (const c of sub.conns) assert.deepEqual(c.errors.filter((e) => !e.startsWith('socket:')), []);
  const replayed = sub.conns.slice(1).map((c) => c.events.filter((e) => e.id !== null).length);
  t.diagnostic(`events per connection: ${sub.conns.map((c) => c.events.filter((e) => e.id !== null).length).join(', ')}`);
  assert.ok(replayed.every((n) => n >= 15), `each resume replayed >= 15 events: ${replayed}`);
});

test('last_event_id query parameter on a first connect; the header wins over it', async () => {
  const stream = `replay-query-${tag}`;
  for (let n = 1; n <= 10; n++) {
    await broadcast(server.base, EVENTS, { stream_id: stream, type: 'numbered', message: `e${n}`, data: { n } });
  }
  const base = `${server.base}${EVENTS}/stream/${stream}`;
  const cases = [
    { path: '?last_event_id=4', headers: {}, from: 5 },
    { path: '?last_event_id=0', headers: {}, from: 1 },
    { path: '?last_event_id=2', headers: { 'Last-Event-ID': '7' }, from: 8 },
  ];
  const conns = [];
  for (const c of cases) {
    const s = await sseConnect(base + c.path, { headers: { ...SSE_HEADERS, ...c.headers } });
    conns.push(s);
    assert.equal(s.status, 200);
    await s.waitEvents(10 - c.from + 1, (e) => e.id !== null, { what: `replay from ${c.from}` });
  }
  await broadcast(server.base, EVENTS, { stream_id: stream, type: 'numbered', message: 'e11', data: { n: 11 } });
  for (const [i, c] of cases.entries()) {
    const s = conns[i];
    await s.nextEvent((e) => e.id === '11', { what: `live event 11 after the replay from ${c.from}` });
    assert.ok(isConnection(s.events[0]), `${c.path}: connection first`);
    const seq = s.events.filter((e) => e.id !== null);
    assert.equal(checkConsecutive(seq, c.from, 11), null, `${c.path} ${JSON.stringify(c.headers)}: ` +
      checkConsecutive(seq, c.from, 11));
    assert.deepEqual(ns(seq), Array.from({ length: 11 - c.from + 1 }, (_, k) => c.from + k));
    assert.equal(s.events.length, seq.length + 1, `${c.path}: nothing but connection and the events`);
    await s.close();
  }
});

test('1,000 subscribers cut at once resume while publishing goes on: each has every event once', async (t) => {
  const SUBSCRIBERS = 1000;
  const CONCURRENCY = 50; // below Pistache's listen backlog of 128
  const stream = `replay-crowd-${tag}`;
  const url = `${server.base}${EVENTS}/stream/${stream}`;
  const t0 = Date.now();
  // autoResume: a subscriber the server ends (e.g. too slow while Node parses
  // 1,000 streams) comes back as EventSource would; it must still miss nothing.
  const crowd = Array.from({ length: SUBSCRIBERS }, () => track(new Resumable(url, { autoResume: true, maxResumes: 5 })));
  await pool(crowd, CONCURRENCY, (s) => s.open());
  const tConnected = Date.now();

  const pub = publisher(server.base, EVENTS, stream, { max: 2000, pauseMs: 20 });
  pub.start();
  await pub.waitAcked(30, { timeout: 2 * DEADLINE_MS });
  await waitFor(() => crowd.every((s) => s.count() >= 20), 'every subscriber has 20 events', { timeout: 2 * DEADLINE_MS, interval: 100 });

  for (const s of crowd) s.cut(); // all at once
  const cutAt = pub.acked.length;
  await pub.waitAcked(cutAt + 10, { timeout: 2 * DEADLINE_MS });
  await pool(crowd, CONCURRENCY, (s) => s.open());
  const tResumed = Date.now();
  const resumedAt = pub.acked.length;
  await pub.waitAcked(resumedAt + 20, { timeout: 2 * DEADLINE_MS });
  await pub.stop();
  assert.deepEqual(pub.errors, [], 'publisher errors');
  const total = pub.acked.length;
  assert.deepEqual(pub.acked.map((a) => a.seq), pub.acked.map((a) => a.n), 'a fresh stream numbers 1, 2, 3...');

  await waitFor(() => crowd.every((s) => s.lastId() === String(total)),
    () => `every subscriber at event ${total}`, { timeout: 3 * DEADLINE_MS, interval: 100 })
    .catch((err) => {
      const behind = crowd.filter((s) => s.lastId() !== String(total));
      throw new Error(`${err.message}; ${behind.length} behind, e.g. last ids ${behind.slice(0, 5).map((s) => s.lastId())}`);
    });
  const problems = [];
  crowd.forEach((s, i) => {
    const p = checkConsecutive(s.received(), 1, total);
    if (p) problems.push(`subscriber ${i}: ${p}`);
    if (s.failures.length) problems.push(`subscriber ${i}: ${s.failures.join('; ')}`);
    const missed = s.unsequenced().filter((e) => !isConnection(e));
    if (missed.length) problems.push(`subscriber ${i}: unexpected ${missed[0].data.slice(0, 200)}`);
  });
  const serverEnds = crowd.reduce((a, s) => a + s.resumes, 0);
  t.diagnostic(`${SUBSCRIBERS} subscribers, ${total} events (cut after ${cutAt}, all back after ${resumedAt}); ` +
    `connect ${tConnected - t0} ms, resume ${tResumed - t0 - (tConnected - t0)} ms incl. publishing, ` +
    `server-side ends resumed: ${serverEnds}, total ${Date.now() - t0} ms`);
  assert.deepEqual(problems.slice(0, 10), [], `${problems.length} problems`);
  await Promise.all(crowd.map((s) => s.close()));
});

// -- history limits (history_size: 10) ----------------------------------------

test('resuming from an id older than the ring: events_missed (exact count) then the 10 kept', async () => {
  const stream = `replay-ring-${tag}`;
  for (let n = 1; n <= 25; n++) {
    await broadcast(small.base, EVENTS, { stream_id: stream, type: 'numbered', message: `e${n}`, data: { n } });
  }
  const url = `${small.base}${EVENTS}/stream/${stream}`;
  const open = (lastId) => sseConnect(url, { headers: { ...SSE_HEADERS, 'Last-Event-ID': lastId } });

  // 5: 6..15 are gone (10 lost), 16..25 kept.
  const old = await open('5');
  await old.waitEvents(10, (e) => e.id !== null, { what: 'the 10 kept events' });
  // 15: exactly the oldest kept follows, nothing lost.
  const edge = await open('15');
  await edge.waitEvents(10, (e) => e.id !== null, { what: 'the 10 kept events (resume from 15)' });
  // 25: the latest, nothing to replay.
  const latest = await open('25');
  await latest.nextEvent(isConnection);

  await broadcast(small.base, EVENTS, { stream_id: stream, type: 'numbered', message: 'e26', data: { n: 26 } });
  for (const s of [old, edge, latest]) await s.nextEvent((e) => e.id === '26', { what: 'live event 26' });

  assert.ok(isConnection(old.events[0]), 'connection first');
  const m = old.events[1];
  assert.equal(m.id, null, 'events_missed has no id');
  assert.equal(m.event, undefined, 'events_missed is an unnamed event');
  assert.equal(m.json && m.json.type, 'events_missed', `second event: ${m.data}`);
  assert.equal(m.json.data.missed, 10, 'exact number lost (6..15)');
  assert.equal(m.json.data.last_event_id, 5);
  assert.equal(m.json.stream_id, stream);
  assert.equal(old.events.length, 2 + 11, `events: ${old.events.map((e) => e.id ?? e.json?.type).join(',')}`);
  assert.equal(checkConsecutive(old.events.slice(2), 16, 26), null, checkConsecutive(old.events.slice(2), 16, 26));
  assert.deepEqual(ns(old.events.slice(2)), Array.from({ length: 11 }, (_, k) => 16 + k));

  assert.equal(edge.events.filter((e) => e.id === null).length, 1, `resume from 15 announces no loss: ${edge.events.filter((e) => e.id === null).map((e) => e.data)}`);
  assert.equal(checkConsecutive(edge.events.slice(1), 16, 26), null, checkConsecutive(edge.events.slice(1), 16, 26));

  assert.equal(latest.events.length, 2, `resume from the latest id: only connection and the live event (${latest.events.map((e) => e.data.slice(0, 60))})`);
  assert.equal(latest.events[1].id, '26');
  await Promise.all([old, edge, latest].map((s) => s.close()));
});

test('an unknown id (beyond the latest, or not a number): events_missed {missed: null, unknown: true}, then the ring', async () => {
  const stream = `replay-unknown-${tag}`;
  for (let n = 1; n <= 25; n++) {
    await broadcast(small.base, EVENTS, { stream_id: stream, type: 'numbered', message: `e${n}`, data: { n } });
  }
  const url = `${small.base}${EVENTS}/stream/${stream}`;
  const cases = [
    { what: 'Last-Event-ID: 999999', path: '', headers: { 'Last-Event-ID': '999999' }, last: 999999 },
    { what: 'Last-Event-ID: abc', path: '', headers: { 'Last-Event-ID': 'abc' } },
    { what: '?last_event_id=abc', path: '?last_event_id=abc', headers: {} },
    { what: 'Last-Event-ID: -1', path: '', headers: { 'Last-Event-ID': '-1' } },
  ];
  const conns = [];
  for (const c of cases) {
    const s = await sseConnect(url + c.path, { headers: { ...SSE_HEADERS, ...c.headers } });
    conns.push(s);
    await s.waitEvents(10, (e) => e.id !== null, { what: `the ring after ${c.what}` });
  }
  await broadcast(small.base, EVENTS, { stream_id: stream, type: 'numbered', message: 'e26', data: { n: 26 } });
  for (const [i, c] of cases.entries()) {
    const s = conns[i];
    await s.nextEvent((e) => e.id === '26', { what: `live event 26 after ${c.what}` });
    assert.ok(isConnection(s.events[0]), `${c.what}: connection first`);
    const m = s.events[1];
    assert.equal(m.id, null, `${c.what}: events_missed has no id`);
    assert.equal(m.json && m.json.type, 'events_missed', `${c.what}: second event ${m.data}`);
    assert.equal(m.json.data.missed, null, `${c.what}: missed is null`);
    assert.equal(m.json.data.unknown, true, `${c.what}: unknown is true`);
    assert.ok('last_event_id' in m.json.data, `${c.what}: data.last_event_id present`);
    if (c.last !== undefined) assert.equal(m.json.data.last_event_id, c.last);
    assert.equal(checkConsecutive(s.events.slice(2), 16, 26), null, `${c.what}: ${checkConsecutive(s.events.slice(2), 16, 26)}`);
    assert.equal(s.events.length, 13, `${c.what}: connection, events_missed, 16..26`);
    await s.close();
  }
  // The ring is unchanged by all this: a plain subscriber sees only live events.
  const plain = await sseConnect(url, { headers: SSE_HEADERS });
  await plain.nextEvent(isConnection);
  await observe(200);
  assert.equal(plain.events.length, 1, 'a first connect without an id replays nothing');
  await plain.close();
});
