// A cluster of three Eventcast nodes on a 3-server NATS JetStream cluster,
// all on 127.0.0.1 and started here: one order per stream on every node,
// resume on any node (beyond the ring too), kill -9 of a node and of a NATS
// server while publishing, generator takeover, a stopped node, and NATS out
// of reach. Each node keeps only 20 events in its ring, so resumes beyond it
// come from JetStream.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, observe, broadcast, getJson, postJson, EVENTS } from './harness.mjs';
import { Resumable } from './clients.mjs';
import { startNats, startNode, SpreadPublisher, checkComplete, waitForId } from './cluster.mjs';

const NODE_CONFIG = `sse:
  history_size: 20
  heartbeat_interval: 500ms
services:
  events:
    path: /api/v1/events
    default_interval: 100ms
`;

let nats;
let nodes = [];
const subs = new Set();
const tag = `${process.pid}`;

before(async () => {
  nats = await startNats();
  nodes = await Promise.all([1, 2, 3].map((i) => startNode(nats.urls, `n${i}-${tag}`, { config: NODE_CONFIG })));
});

after(async () => {
  for (const s of subs) await s.close().catch(() => {});
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  if (nats) await nats.stop();
});

const track = (s) => { subs.add(s); return s; };
const url = (node, stream) => `${node.base}${EVENTS}/stream/${stream}`;
const idsOf = (sub) => sub.received().map((e) => Number(e.id));

// Subscribers resume by themselves when the server ends their stream, as
// EventSource does: a node whose JetStream feed comes back with a burst
// larger than a mailbox cuts them as slow.
const subscriber = (node, stream, opts = {}) => track(new Resumable(url(node, stream), { autoResume: true, ...opts }));

/** POST .../stream/{id}/{op}, again while JetStream answers 503 (a bucket's
 * leader election after a server died); returns the last answer. */
const control = (node, stream, op) => waitFor(async () => {
  const res = await postJson(node.base, `${EVENTS}/stream/${stream}/${op}`, {});
  return res.status !== 503 && res;
}, `${op} of ${stream} answered`);

async function subscribeAll(stream, list = nodes) {
  const out = list.map((n) => subscriber(n, stream));
  await Promise.all(out.map((s) => s.open()));
  return out;
}

test('every node delivers the same ids in the same order, and the publish answer gives the id', async () => {
  const stream = `order-${tag}`;
  const subsOnNodes = await subscribeAll(stream);
  const pub = new SpreadPublisher(nodes, stream, { max: 150 });
  await pub.start();
  assert.equal(pub.acked.length, 150, `failures: ${pub.failures.join('; ')}`);
  await waitFor(() => subsOnNodes.every((s) => s.count() >= 150),
    () => `all 150 events on every node (have ${subsOnNodes.map((s) => `${s.count()}/${s.conns.length} conns`)})`);
  const reference = idsOf(subsOnNodes[0]);
  assert.deepEqual(reference, pub.acked.map((a) => a.seq), 'ids are the acknowledged ids, in publish order');
  for (const s of subsOnNodes) {
    assert.deepEqual(idsOf(s), reference);
    assert.deepEqual(s.received().map((e) => e.json.data.n), pub.acked.map((a) => a.n));
  }
  assert.deepEqual(new Set(pub.acked.map((a) => a.node)), new Set([0, 1, 2]), 'published through every node');
  assert.ok(pub.acked.every((a) => a.stored), 'every answer says the event is stored');
});

test('stream info counts the subscribers of every node, with a per-node breakdown', async () => {
  const stream = `count-${tag}`;
  await subscribeAll(stream, [nodes[0], nodes[0], nodes[1]]);
  const names = nodes.map((n, i) => `n${i + 1}-${tag}`);
  const info = await waitFor(async () => {
    const res = await getJson(nodes[2].base, `${EVENTS}/streams`);
    const s = res.json.data[stream];
    return s && s.clients === 3 && s;
  }, 'three subscribers counted on the third node');
  assert.deepEqual(info.nodes, { [names[0]]: 2, [names[1]]: 1 });
  const cluster = await getJson(nodes[2].base, '/api/v1/cluster');
  assert.equal(cluster.status, 200);
  assert.equal(cluster.json.data.enabled, true);
  assert.equal(cluster.json.data.node, names[2]);
  assert.equal(cluster.json.data.nats.connected, true);
  assert.deepEqual(cluster.json.data.nodes.map((n) => n.node).sort(), [...names].sort());
});

test('a broadcast to all streams reaches streams that live on other nodes only', async () => {
  const stream = `elsewhere-${tag}`;
  const [s] = await subscribeAll(stream, [nodes[1]]);
  await broadcast(nodes[1].base, EVENTS, { stream_id: stream, type: 't', message: 'create' });
  const res = await postJson(nodes[0].base, `${EVENTS}/broadcast`, { type: 'all', message: 'to every stream' });
  assert.equal(res.status, 200, res.text);
  assert.ok(res.json.data.streams >= 1);
  await waitFor(() => s.received().some((e) => e.json.type === 'all'), 'the broadcast on the other node');
});

test('a client resumes on another node exactly, beyond that node\'s ring', async () => {
  const stream = `resume-${tag}`;
  const sub = subscriber(nodes[0], stream);
  await sub.open();
  const pub = new SpreadPublisher([nodes[0]], stream, { max: 100 });
  pub.start();
  await waitFor(() => sub.count() >= 30, '30 events on the first node');
  sub.cut();
  await pub.done;
  sub.url = url(nodes[2], stream);
  await sub.open();
  await waitFor(() => sub.count() >= 100, 'all 100 events after resuming on the third node');
  await observe(200);
  assert.equal(checkComplete(idsOf(sub), pub.acked, 1), '');
  assert.equal(sub.count(), 100);
  assert.equal(sub.unsequenced().filter((e) => e.json.type === 'events_missed').length, 0);
});

test('an id older than JetStream\'s retention gets events_missed with the exact count', async () => {
  const node = await startNode(nats.urls, `retain-${tag}`, { cluster: '  history_messages: 10\n' });
  try {
    const stream = `retention-${tag}`;
    for (let n = 1; n <= 30; n++) await broadcast(node.base, EVENTS, { stream_id: stream, type: 't', message: `${n}` });
    const s = subscriber(nodes[1], stream, { firstLastId: '1' });
    await s.open();
    await waitFor(() => s.count() >= 10, 'the 10 events JetStream still holds');
    const missed = s.unsequenced().find((e) => e.json.type === 'events_missed');
    assert.ok(missed, 'an events_missed event');
    assert.equal(missed.json.data.missed, 19); // 2..20 are gone, 21..30 kept
    assert.deepEqual(idsOf(s), Array.from({ length: 10 }, (_, i) => 21 + i));
  } finally {
    await node.stop();
  }
});

test('an id the stream never gave gets events_missed as unknown, then live events', async () => {
  const stream = `unknown-id-${tag}`;
  for (let n = 1; n <= 5; n++) await broadcast(nodes[0].base, EVENTS, { stream_id: stream, type: 't', message: `${n}` });
  const s = subscriber(nodes[1], stream, { firstLastId: '999999' });
  await s.open();
  const missed = await waitFor(() => s.unsequenced().find((e) => e.json.type === 'events_missed'), 'events_missed');
  assert.equal(missed.json.data.missed, null);
  assert.equal(missed.json.data.unknown, true);
  const res = await broadcast(nodes[2].base, EVENTS, { stream_id: stream, type: 't', message: 'live' });
  await waitFor(() => idsOf(s).includes(res.json.data.id), 'the live event');
});

test('kill -9 of a NATS server while publishing loses no acknowledged event', async () => {
  const stream = `nats-kill-${tag}`;
  const subsOnNodes = await subscribeAll(stream);
  const pub = new SpreadPublisher(nodes, stream, { max: 100_000 });
  pub.start();
  await pub.waitAcked(50);
  nats.kill(1);
  const at = pub.acked.length;
  await pub.waitAcked(at + 150, { timeout: 30_000 });
  await pub.stop();
  nats.restart(1);
  const last = pub.acked[pub.acked.length - 1].seq;
  for (const s of subsOnNodes) {
    await waitForId(s, last, `the last acknowledged event (${last}) on ${s.url}`, { timeout: 20_000 });
    assert.equal(checkComplete(idsOf(s), pub.acked, 1), '');
  }
  await nats.whole(); // the next tests create streams: on a whole cluster
});

test('kill -9 of an Eventcast node: its clients resume on another node with no gap', async () => {
  const stream = `node-kill-${tag}`;
  const [onVictim, onSurvivor] = await subscribeAll(stream, [nodes[1], nodes[2]]);
  const pub = new SpreadPublisher([nodes[0], nodes[2]], stream, { max: 300 });
  pub.start();
  await waitFor(() => onVictim.count() >= 50,
    () => `50 events on the node to kill (has ${onVictim.count()}, acked ${pub.acked.length}, ${pub.failures.slice(0, 3)})`);
  onVictim.current.cutByUs = true; // it resumes below, on another node
  await nodes[1].stop('SIGKILL');
  await waitFor(() => onVictim.current.closed || onVictim.current.ended, 'the dead node\'s connection to end');
  onVictim.url = url(nodes[2], stream);
  await onVictim.open();
  await pub.done;
  const last = pub.acked[pub.acked.length - 1].seq;
  for (const s of [onVictim, onSurvivor]) {
    await waitForId(s, last, 'the last event');
    assert.equal(checkComplete(idsOf(s), pub.acked, 1), '');
  }
  nodes[1] = await startNode(nats.urls, `n2b-${tag}`, { config: NODE_CONFIG });
});

/** Whether `node` says last that it runs the generator of `stream`. */
const runsGenerator = (node, stream) => node.alive()
  && ((node.stderrText().match(new RegExp(`generator of '${stream}' (runs|stops running)`, 'g')) || [])
    .pop() || '').includes('runs');
const holderOf = (stream) => nodes.find((n) => runsGenerator(n, stream));

test('a generator runs on one node and moves on within seconds when that node dies', async () => {
  const stream = `gen-${tag}`;
  const res = await control(nodes[0], stream, 'start');
  assert.equal(res.status, 200, res.text);
  const holder = await waitFor(() => holderOf(stream), 'a node holding the generator');
  const watcher = nodes.find((n) => n !== holder);
  const s = subscriber(watcher, stream, { firstLastId: '0' });
  await s.open();
  await waitFor(() => s.count() >= 10, '10 generated events');
  const holders = nodes.filter((n) => runsGenerator(n, stream)).length;
  assert.equal(holders, 1, 'exactly one node runs it');
  const before = s.count();
  await holder.stop('SIGKILL');
  const killedAt = Date.now();
  try {
    const next = await waitFor(() => holderOf(stream), 'another node taking the generator over', { timeout: 15_000 });
    const tookOver = Date.now() - killedAt;
    assert.notEqual(next, holder);
    assert.ok(tookOver < 12_000, `taken over after ${tookOver} ms (the lease TTL is 4 s)`);
    await waitFor(() => s.count() >= before + 10, '10 more events after the takeover', { timeout: 15_000 });
    assert.equal(checkComplete(idsOf(s), [], 1), '', 'ids stay consecutive across the takeover');
  } finally {
    // The next tests need three nodes, whatever became of this one.
    const i = nodes.indexOf(holder);
    nodes[i] = await startNode(nats.urls, `n${i}c-${tag}`, { config: NODE_CONFIG });
    await postJson(nodes[0].base, `${EVENTS}/stream/${stream}/stop`, {});
  }
});

test('pause and resume on any node reach the node that runs the generator', async () => {
  const stream = `pause-${tag}`;
  const start = await control(nodes[1], stream, 'start');
  assert.equal(start.status, 200, start.text);
  const s = subscriber(nodes[0], stream, { firstLastId: '0' });
  await s.open();
  await waitFor(() => s.count() >= 3, 'generated events');
  const paused = await postJson(nodes[2].base, `${EVENTS}/stream/${stream}/pause`, {});
  assert.equal(paused.status, 200, paused.text);
  const again = await postJson(nodes[0].base, `${EVENTS}/stream/${stream}/pause`, {});
  assert.equal(again.status, 409, 'already paused, seen from another node');
  await observe(500); // events already on their way
  const atPause = s.count();
  await observe(1000);
  assert.equal(s.count(), atPause, 'no event while paused');
  const info = (await getJson(nodes[1].base, `${EVENTS}/streams`)).json.data[stream];
  assert.deepEqual([info.generator.running, info.generator.paused], [true, true]);
  const resumed = await postJson(nodes[0].base, `${EVENTS}/stream/${stream}/resume`, {});
  assert.equal(resumed.status, 200, resumed.text);
  await waitFor(() => s.count() >= atPause + 3, 'events after resume');
  const stopped = await postJson(nodes[2].base, `${EVENTS}/stream/${stream}/stop`, {});
  assert.equal(stopped.status, 200, stopped.text);
  assert.equal((await postJson(nodes[1].base, `${EVENTS}/stream/${stream}/stop`, {})).status, 409);
  assert.equal(checkComplete(idsOf(s), [], 1), '');
});

test('a node that shuts down (SIGTERM) exits 0 and hands its generators over at once', async () => {
  const stream = `handover-${tag}`;
  const res = await control(nodes[0], stream, 'start');
  assert.equal(res.status, 200, res.text);
  const holder = await waitFor(() => holderOf(stream), 'a node holding the generator');
  const stoppedAt = Date.now();
  assert.equal(await holder.stop('SIGTERM'), 0);
  await waitFor(() => holderOf(stream), 'another node running the generator');
  const handedOver = Date.now() - stoppedAt;
  assert.ok(handedOver < 3000, `handed over after ${handedOver} ms (the lease TTL is 4 s)`);
  const i = nodes.indexOf(holder);
  nodes[i] = await startNode(nats.urls, `n${i}d-${tag}`, { config: NODE_CONFIG });
  await postJson(nodes[0].base, `${EVENTS}/stream/${stream}/stop`, {});
});

test('a stopped node (SIGSTOP) catches up after SIGCONT with no gap', async () => {
  const stream = `sigstop-${tag}`;
  const [onStopped] = await subscribeAll(stream, [nodes[2]]);
  const pub = new SpreadPublisher([nodes[0], nodes[1]], stream, { max: 200 });
  pub.start();
  await waitFor(() => onStopped.count() >= 20, '20 events before SIGSTOP');
  nodes[2].proc.kill('SIGSTOP');
  await observe(3000);
  nodes[2].proc.kill('SIGCONT');
  await pub.done;
  const last = pub.acked[pub.acked.length - 1].seq;
  await waitForId(onStopped, last, 'every event after SIGCONT', { timeout: 20_000 });
  assert.equal(checkComplete(idsOf(onStopped), pub.acked, 1), '');
});

test('NATS out of reach: publishes answer 503, subscribers keep heartbeats, delivery resumes', async () => {
  const stream = `outage-${tag}`;
  const [s] = await subscribeAll(stream, [nodes[0]]);
  const ok = await broadcast(nodes[0].base, EVENTS, { stream_id: stream, type: 't', message: 'before' });
  assert.equal(ok.status, 200);
  await waitFor(() => s.count() >= 1, 'the first event');
  for (const i of [1, 2, 3]) nats.signal(i, 'SIGSTOP');
  try {
    const res = await postJson(nodes[0].base, `${EVENTS}/broadcast`, { stream_id: stream, type: 't', message: 'during' });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json.success, false);
    const beats = s.current.comments.length;
    await waitFor(() => s.current.comments.length >= beats + 2, 'heartbeats during the outage');
    assert.ok(!s.current.closed, 'the subscriber stays connected');
  } finally {
    for (const i of [1, 2, 3]) nats.signal(i, 'SIGCONT');
  }
  const after = await waitFor(async () => {
    const r = await postJson(nodes[0].base, `${EVENTS}/broadcast`, { stream_id: stream, type: 't', message: 'after' });
    return r.status === 200 && r;
  }, 'publishing again once NATS is back', { timeout: 30_000, interval: 500 });
  await waitFor(() => idsOf(s).includes(after.json.data.id), 'the event after the outage', { timeout: 20_000 });
  assert.equal(checkComplete(idsOf(s), [], 1), '');
});
