// SIGTERM drain: while a publisher posts numbered events to 50 subscribers,
// SIGTERM; every event acknowledged (200) before the signal reaches every
// subscriber exactly once and in order, each stream ends with a jittered
// `retry:` within [retry, 2 x retry], new connections are refused, and the
// process exits 0 within server.drain_timeout + 1 s.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, sseConnect, subscribe, pool, waitFor, DEADLINE_MS, EVENTS,
} from './harness.mjs';
import { NumberedPublisher, checkConsecutive, isConnection, SSE_HEADERS } from './clients.mjs';

const RETRY_MS = 1000;
const DRAIN_MS = 3000;
const CONFIG = `sse:\n  retry: ${RETRY_MS}ms\nserver:\n  drain_timeout: ${DRAIN_MS}ms\n`;

const servers = [];
const conns = new Set();
const publishers = new Set();

after(async () => {
  for (const p of publishers) await p.stop();
  for (const c of conns) c.close();
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
});

const start = async (config) => {
  const s = await startServer({ config });
  servers.push(s);
  return s;
};

/** Resolves to {code, signal, afterMs} once the process exits, or null after `ms`. */
async function exitWithin(server, t0, ms) {
  let timer;
  const res = await Promise.race([
    server.exited,
    new Promise((r) => { timer = setTimeout(() => r(null), ms); }),
  ]);
  clearTimeout(timer);
  return res && { ...res, afterMs: Date.now() - t0 };
}

/** A connection attempt after the signal: refused (error/closed) or an SSE answer without a subscription. */
async function tryConnect(server, stream) {
  let s;
  try {
    s = await sseConnect(`${server.base}${EVENTS}/stream/${stream}`, { headers: SSE_HEADERS, timeout: 2000 });
  } catch (err) {
    return { refused: true, how: err.code || err.message };
  }
  conns.add(s);
  const subscribed = await Promise.race([
    s.nextEvent(isConnection, { timeout: DRAIN_MS + 2000 }).then(() => true, () => false),
    s.waitEnd(DRAIN_MS + 2000).then(() => false, () => false),
  ]);
  const types = s.events.map((e) => (e.json ? e.json.type : e.data.slice(0, 40)));
  return { refused: !subscribed, how: `status ${s.status}, retry ${s.retry}, events [${types}]`, s };
}

test('SIGTERM with 50 subscribers and a publisher: no acknowledged event lost, retry: at the end, exit 0 in time', async (t) => {
  const server = await start(CONFIG);
  const stream = `drain-${process.pid}`;
  const url = `${server.base}${EVENTS}/stream/${stream}`;
  const subs = await pool(Array.from({ length: 50 }), 25, async () => {
    const s = await subscribe(url);
    conns.add(s);
    return s;
  });

  const pub = new NumberedPublisher(server.base, EVENTS, stream, { max: 100_000, pauseMs: 2 });
  publishers.add(pub);
  pub.start();
  await pub.waitAcked(100);

  // The signal: what was acknowledged up to here must arrive everywhere.
  const acked = pub.acked.slice();
  const t0 = Date.now();
  const stopping = server.stop('SIGTERM');
  const lastAcked = acked[acked.length - 1].seq;
  assert.deepEqual(acked.map((a) => a.seq), acked.map((a) => a.n), 'a fresh stream numbers 1, 2, 3...');

  const exit = await exitWithin(server, t0, DRAIN_MS + 1000);
  await pub.stop();
  t.diagnostic(`${acked.length} events acknowledged before SIGTERM, ${pub.acked.length} in all; ` +
    `exit ${JSON.stringify(exit)}`);
  assert.notEqual(exit, null, `the process exits within drain_timeout + 1 s (${DRAIN_MS + 1000} ms)`);
  assert.equal(exit.code, 0, `exit code ${exit.code} (signal ${exit.signal})\n${server.stderrText().slice(-2000)}`);
  assert.equal(await stopping, 0);

  // The process is gone: every stream has ended (our side may see it a little later).
  await Promise.all(subs.map((s) => s.waitEnd()));
  // Every subscriber: 1..k in order, each once, k >= the last acknowledged;
  // then a retry: line and a clean end of the stream.
  const problems = [];
  const retries = new Set();
  subs.forEach((s, i) => {
    const got = s.events.filter((e) => e.id !== null);
    const last = got.length ? Number(got[got.length - 1].id) : 0;
    const p = checkConsecutive(got, 1, Math.max(last, lastAcked));
    if (p) problems.push(`subscriber ${i}: ${p}`);
    if (got.some((e, k) => e.json.data.n !== k + 1)) problems.push(`subscriber ${i}: n not consecutive`);
    if (!s.closed) problems.push(`subscriber ${i}: stream not closed`);
    if (!s.ended) problems.push(`subscriber ${i}: no terminating chunk`);
    const end = s.log[s.log.length - 1];
    if (!end || end.kind !== 'retry') {
      problems.push(`subscriber ${i}: the stream does not end with retry: (${JSON.stringify(s.log.slice(-2))})`);
    } else {
      retries.add(end.value);
      if (end.value < RETRY_MS || end.value > 2 * RETRY_MS) problems.push(`subscriber ${i}: retry ${end.value}`);
    }
    const extra = s.events.filter((e) => e.id === null && !isConnection(e));
    if (extra.length) problems.push(`subscriber ${i}: unexpected ${extra[0].data.slice(0, 120)}`);
    const bad = s.errors.filter((e) => !e.startsWith('socket:'));
    if (bad.length) problems.push(`subscriber ${i}: ${bad.join('; ')}`);
  });
  t.diagnostic(`retry values at the end: ${[...retries].sort().join(', ')}`);
  assert.deepEqual(problems.slice(0, 10), [], `${problems.length} problems`);
  assert.ok(retries.size > 1, `the retry: values are jittered (got ${[...retries]})`);
});

test('SIGTERM with a subscriber that does not read: new connections refused during the drain; exit 0 within drain_timeout + 1 s', async (t) => {
  const server = await start(
    `sse:\n  retry: ${RETRY_MS}ms\n  mailbox_capacity: 2000\nserver:\n  drain_timeout: ${DRAIN_MS}ms\n`);
  const stream = `drain-stalled-${process.pid}`;
  const url = `${server.base}${EVENTS}/stream/${stream}`;
  const reader = await subscribe(url);
  const stalled = await subscribe(url);
  conns.add(reader);
  conns.add(stalled);
  stalled.socket.pause();
  // 8 KiB events until the stalled reader's socket is surely full, so that
  // its stream cannot end and the drain window stays open.
  const pub = new NumberedPublisher(server.base, EVENTS, stream, { max: 1200, size: 8192 });
  publishers.add(pub);
  await pub.start();
  assert.deepEqual(pub.errors, []);
  await waitFor(() => reader.events.some((e) => e.id === String(pub.acked.length)), 'the reader to get every event',
    { timeout: 3 * DEADLINE_MS });

  const t0 = Date.now();
  const stopping = server.stop('SIGTERM');
  // Once the server shows it is draining (the log line, the reading
  // subscriber's stream ended), new connections are refused.
  await waitFor(() => /received SIGTERM/.test(server.stderrText()) || !server.alive(), 'the server to take the signal');
  await reader.waitEnd();
  const drainingFor = Date.now() - t0;
  const late = server.alive() ? await tryConnect(server, stream) : { refused: true, how: 'already exited' };
  const lateOther = server.alive() ? await tryConnect(server, 'drain-new-stream') : { refused: true, how: 'already exited' };

  const exit = await exitWithin(server, t0, DRAIN_MS + 1000);
  t.diagnostic(`reader ended after ${drainingFor} ms; exit ${JSON.stringify(exit)}; ` +
    `connections after the signal: ${late.how} | ${lateOther.how}`);
  assert.equal(reader.log[reader.log.length - 1].kind, 'retry', 'the reading subscriber got its retry:');
  assert.equal(late.refused, true, `a subscriber admitted during the drain: ${late.how}`);
  assert.equal(lateOther.refused, true, `a subscriber of a new stream admitted during the drain: ${lateOther.how}`);
  assert.notEqual(exit, null, `exit within ${DRAIN_MS + 1000} ms despite a subscriber that does not read`);
  assert.equal(exit.code, 0, `exit code ${exit.code} (signal ${exit.signal})`);
  assert.equal(await stopping, 0);
});
