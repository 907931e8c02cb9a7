// A subscriber that stops reading must not hold the stream back or grow the
// server: with `disconnect` (the default) it is cut and counted in
// slow_disconnects; with `drop_oldest` it stays, is told how many events it
// lost (`events_missed`), and the drops are counted. Either way a normal
// subscriber of the same stream receives every event, in order, and the
// server's memory stays bounded.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import {
  startServer, sseConnect, broadcast, streamsOf, waitFor, rssKb, isAsan, DEADLINE_MS, EVENTS,
} from './harness.mjs';
import { NumberedPublisher, checkConsecutive, isConnection, SSE_HEADERS } from './clients.mjs';

const servers = [];
const conns = new Set();
const publishers = new Set();

after(async () => {
  for (const p of publishers) await p.stop();
  for (const c of conns) c.close();
  await Promise.all(servers.map((s) => s.stop()));
});

const start = async (config) => {
  const s = await startServer({ config });
  servers.push(s);
  return s;
};
const open = async (url) => {
  const s = await sseConnect(url, { headers: SSE_HEADERS });
  conns.add(s);
  assert.equal(s.status, 200);
  await s.nextEvent(isConnection, { what: 'the connection event' });
  return s;
};

const EVENT_BYTES = 8 * 1024;
const MAX_EVENTS = 3000; // 24 MiB: far beyond socket buffers + a 50-event mailbox
const RSS_LIMIT_KB = 150 * 1024;

/**
 * Publishes 8 KiB events to `stream` until `until()` holds (checked after
 * every event) and at least `min` events went out, at most MAX_EVENTS.
 * Returns the publisher (stopped).
 */
async function flood(server, stream, until, { min = 0 } = {}) {
  let stopWhen = null;
  const pub = new NumberedPublisher(server.base, EVENTS, stream, { max: MAX_EVENTS, size: EVENT_BYTES, type: 'flood' });
  publishers.add(pub);
  let rssPeak = 0;
  let polls = 0;
  pub.onAck = () => {
    // Sample RSS every 25 events.
    if (++polls % 25 === 0) rssPeak = Math.max(rssPeak, rssKb(server.pid));
  };
  pub.start();
  await waitFor(async () => {
    if (!pub.running) return true;
    if (pub.acked.length < min) return false;
    if (stopWhen === null && await until()) stopWhen = pub.acked.length + 20; // a few more after the verdict
    return stopWhen !== null && pub.acked.length >= stopWhen;
  }, 'the overflow verdict', { timeout: 6 * DEADLINE_MS, interval: 50 });
  await pub.stop();
  assert.deepEqual(pub.errors, [], 'publisher errors');
  pub.rssPeak = rssPeak;
  return pub;
}

test('disconnect policy: a stalled reader is cut and counted; a normal subscriber misses nothing', async (t) => {
  const server = await start('sse:\n  mailbox_capacity: 50\n  overflow_policy: disconnect\n');
  const stream = `overload-disc-${process.pid}`;
  const url = `${server.base}${EVENTS}/stream/${stream}`;
  const normal = await open(url);
  const stalled = await open(url);
  stalled.socket.pause(); // never reads again (until we look at what it got)
  const rss0 = rssKb(server.pid);

  const info = async () => (await streamsOf(server.base, EVENTS))[stream] || {};
  const pub = await flood(server, stream, async () => (await info()).slow_disconnects >= 1, { min: 100 });
  const total = pub.acked.length;
  const st = await info();
  t.diagnostic(`published ${total} x ${EVENT_BYTES} B; stream info ${JSON.stringify(st)}`);
  assert.ok(st.slow_disconnects >= 1, `slow_disconnects ${st.slow_disconnects} after ${total} events`);
  await waitFor(async () => (await info()).clients === 1, 'the stream to count only the normal subscriber');

  // The normal subscriber: every event, in order, still connected.
  await waitFor(() => normal.events.length && normal.events[normal.events.length - 1].id === String(total),
    `the normal subscriber to reach event ${total}`, { timeout: 3 * DEADLINE_MS });
  const seq = normal.events.filter((e) => e.id !== null);
  assert.equal(checkConsecutive(seq, 1, total), null, checkConsecutive(seq, 1, total));
  assert.deepEqual(seq.map((e) => e.json.data.n), Array.from({ length: total }, (_, i) => i + 1));
  assert.equal(normal.events.filter((e) => e.id === null).length, 1, 'no events_missed for the normal subscriber');
  assert.equal(normal.closed, undefined, 'the normal subscriber is still connected');
  await broadcast(server.base, EVENTS, { stream_id: stream, type: 'after', message: 'still there' });
  await normal.nextEvent((e) => e.json && e.json.type === 'after');

  // The stalled reader's socket ends: once it reads again it gets what the
  // kernel and its mailbox held, then the end, never the live events after.
  stalled.socket.resume();
  await stalled.waitEnd(2 * DEADLINE_MS);
  const got = stalled.events.filter((e) => e.id !== null);
  const last = got.length ? Number(got[got.length - 1].id) : 0;
  t.diagnostic(`stalled reader got ${got.length} events (last id ${last}) before its stream ended`);
  assert.ok(last < total, `the stalled reader was cut before the end (last ${last} of ${total})`);
  assert.equal(checkConsecutive(got, 1, last), null, `what it got is a prefix: ${checkConsecutive(got, 1, last)}`);
  assert.equal(stalled.events.some((e) => e.json && e.json.type === 'after'), false, 'no live event after the cut');

  const rss1 = rssKb(server.pid);
  const growth = Math.max(rss1, pub.rssPeak) - rss0;
  t.diagnostic(`server RSS ${rss0} KiB -> ${rss1} KiB (peak sampled ${pub.rssPeak} KiB), growth ${growth} KiB${isAsan(server.pid) ? ' (ASan)' : ''}`);
  if (!isAsan(server.pid)) assert.ok(growth < RSS_LIMIT_KB, `RSS grew by ${growth} KiB`);
});

test('disconnect policy: a stalled reader that never reads again does not keep its connection', async (t) => {
  const server = await start('sse:\n  mailbox_capacity: 50\n');
  const stream = `overload-hold-${process.pid}`;
  const url = `${server.base}${EVENTS}/stream/${stream}`;
  const stalled = await open(url);
  stalled.socket.pause();
  const port = stalled.socket.localPort;
  const serverSide = () => sockStates(server.pid, port);
  assert.deepEqual(serverSide().states, ['01'], 'the probe sees the server\'s end of the connection');
  const info = async () => (await streamsOf(server.base, EVENTS))[stream] || {};
  const pub = await flood(server, stream, async () => (await info()).slow_disconnects >= 1, { min: 100 });
  t.diagnostic(`slow disconnect after <= ${pub.acked.length} events`);
  // The server must let go of the connection on its own while the client
  // keeps not reading: its socket to the client leaves ESTABLISHED (a FIN is
  // queued after shutdown/close, or the socket is gone). Node would only see
  // the FIN by reading, so look at the server's side in /proc/net/tcp.
  t.diagnostic(`server-side socket to the stalled client: ${JSON.stringify(serverSide())} (01 = ESTABLISHED)`);
  await waitFor(() => !serverSide().states.includes('01'), 'the server to end the stalled connection',
    { timeout: DEADLINE_MS / 2, interval: 100 }).catch((err) => {
    throw new Error(`${err.message}; server-side TCP states ${JSON.stringify(serverSide())} ` +
      `(01 = ESTABLISHED); slow_disconnects was counted within ${pub.acked.length} events`);
  });
});

test('drop_oldest: a stalled reader stays, is told what it missed; drops are counted; the normal one misses nothing', async (t) => {
  const server = await start('sse:\n  mailbox_capacity: 50\n  overflow_policy: drop_oldest\n');
  const stream = `overload-drop-${process.pid}`;
  const url = `${server.base}${EVENTS}/stream/${stream}`;
  const normal = await open(url);
  const stalled = await open(url);
  stalled.socket.pause();
  const rss0 = rssKb(server.pid);

  const info = async () => (await streamsOf(server.base, EVENTS))[stream] || {};
  // Enough to overflow for sure: wait for dropped_events, then 20 more.
  const pub = await flood(server, stream, async () => (await info()).dropped_events >= 1, { min: 100 });
  const total = pub.acked.length;
  const st = await info();
  t.diagnostic(`published ${total} x ${EVENT_BYTES} B; stream info ${JSON.stringify(st)}`);
  assert.ok(st.dropped_events >= 1, `dropped_events ${st.dropped_events}`);
  assert.equal(st.slow_disconnects || 0, 0, 'nobody disconnected under drop_oldest');
  assert.equal(st.clients, 2, 'the stalled reader is still a client');

  await waitFor(() => normal.events.length && normal.events[normal.events.length - 1].id === String(total),
    `the normal subscriber to reach event ${total}`, { timeout: 3 * DEADLINE_MS });
  const seq = normal.events.filter((e) => e.id !== null);
  assert.equal(checkConsecutive(seq, 1, total), null, checkConsecutive(seq, 1, total));
  assert.equal(normal.events.filter((e) => e.id === null).length, 1, 'no events_missed for the normal subscriber');

  // It reads again: an events_missed with missed > 0, then it catches up with
  // the newest events and keeps receiving live ones.
  stalled.socket.resume();
  const m = await stalled.nextEvent((e) => e.json && e.json.type === 'events_missed',
    { what: 'events_missed at the stalled reader', timeout: 3 * DEADLINE_MS });
  assert.equal(m.id, null, 'events_missed has no id');
  assert.ok(Number.isInteger(m.json.data.missed) && m.json.data.missed > 0, `missed ${JSON.stringify(m.json.data)}`);
  await waitFor(() => stalled.events.some((e) => e.id === String(total)), `the stalled reader to reach event ${total}`,
    { timeout: 3 * DEADLINE_MS });
  await broadcast(server.base, EVENTS, { stream_id: stream, type: 'after', message: 'live' });
  await stalled.nextEvent((e) => e.json && e.json.type === 'after', { what: 'a live event after catching up' });
  assert.equal(stalled.closed, undefined, 'the stalled reader stayed connected');

  // What it got is in order, and received + reported missed accounts for every
  // event it could not get (ids are increasing, with gaps only where it was told).
  const got = stalled.events.filter((e) => e.id !== null).map((e) => Number(e.id));
  for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], `ids increase at ${i}: ${got[i - 1]}, ${got[i]}`);
  const reported = stalled.events.filter((e) => e.json && e.json.type === 'events_missed')
    .reduce((a, e) => a + e.json.data.missed, 0);
  const gotUpTo = got.filter((x) => x <= total).length;
  t.diagnostic(`stalled reader: ${gotUpTo} of ${total} received, ${reported} reported missed`);
  assert.equal(gotUpTo + reported, total, 'received + reported missed = published');

  const rss1 = rssKb(server.pid);
  const growth = Math.max(rss1, pub.rssPeak) - rss0;
  t.diagnostic(`server RSS ${rss0} KiB -> ${rss1} KiB (peak sampled ${pub.rssPeak} KiB), growth ${growth} KiB${isAsan(server.pid) ? ' (ASan)' : ''}`);
  if (!isAsan(server.pid)) assert.ok(growth < RSS_LIMIT_KB, `RSS grew by ${growth} KiB`);
});

// -- /proc/net/tcp: the server's sockets to one client port ------------------


/**
 * TCP sockets owned by `pid` whose remote port is `clientPort`:
 * {open: how many, states: [hex TCP state]}.
 */
function sockStates(pid, clientPort) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const states = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const remPort = parseInt(f[2].split(':')[1], 16);
      if (remPort === clientPort && inodes.has(f[9])) states.push(f[3]);
    }
  }
  return { open: states.length, states };
}
