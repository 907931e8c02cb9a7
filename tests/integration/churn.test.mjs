// Connection churn: thousands of SSE connections opened and closed in waves
// while a publisher broadcasts to their streams. No event may ever reach a
// connection it was not addressed to (Pistache queues writes by fd number and
// fds are reused, so this is the case that would show it), counts go back to
// zero, and repeated connect/disconnect cycles leak neither fds nor memory.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, sseConnect, postJson, streamsOf, waitFor, pool, rssKb, fdCount, isAsan,
  DEADLINE_MS, EVENTS,
} from './harness.mjs';

const STREAMS = 20;
const WAVES = 10;
const PER_WAVE = 210; // 10 waves x 210 = 2,100 connections
const CONNECT_CONCURRENCY = 50; // below Pistache's fixed listen backlog of 128
const PUBLISHERS = 4;
const CYCLES = 1000;
const WARMUP_CYCLES = 200;
const CYCLE_CONCURRENCY = 20;

let server;
const open = new Set();

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const s of open) s.close();
  if (server) await server.stop();
});

const streamIds = Array.from({ length: STREAMS }, (_, i) => `churn-${i}`);

// Deterministic pseudo-random numbers, so a failure can be replayed.
let rngState = 0x2545f491;
const rand = () => {
  rngState ^= rngState << 13; rngState >>>= 0;
  rngState ^= rngState >>> 17;
  rngState ^= rngState << 5; rngState >>>= 0;
  return rngState / 0x100000000;
};

/** Every event a connection got must be addressed to its own stream. */
function checkDelivery(conn, failures) {
  for (const e of conn.s.events) {
    if (!e.json) { failures.push(`${conn.stream}: non-JSON data ${e.data.slice(0, 80)}`); continue; }
    if (e.json.stream_id !== conn.stream) {
      failures.push(`${conn.stream}: got an event of ${e.json.stream_id} (${e.data.slice(0, 120)})`);
    }
    if (e.json.data && 'target' in e.json.data && e.json.data.target !== conn.stream) {
      failures.push(`${conn.stream}: got an event for ${e.json.data.target}`);
    }
  }
  if (conn.s.errors.length) {
    // Resets from our own early closes are fine; malformed framing is not.
    const bad = conn.s.errors.filter((x) => !x.startsWith('socket:'));
    if (bad.length) failures.push(`${conn.stream}: ${bad.join('; ')}`);
  }
}

async function connect(stream) {
  const s = await sseConnect(`${server.base}${EVENTS}/stream/${stream}`, {
    headers: { Accept: 'text/event-stream' },
  });
  open.add(s);
  return { stream, s };
}

async function closeConn(conn) {
  await conn.s.close();
  open.delete(conn.s);
}

test('2,100 connections in waves over 20 streams: every event reaches only its own stream', async (t) => {
  const failures = [];
  let delivered = 0;
  let connections = 0;
  let n = 0;
  let posted = 0;
  for (let wave = 0; wave < WAVES; wave++) {
    let publishing = true;
    // PUBLISHERS concurrent publishers broadcast with a marker to the wave's
    // streams while connections come and go. Bounded by the flag and a cap.
    const publisher = Promise.all(Array.from({ length: PUBLISHERS }, async () => {
      for (let i = 0; publishing && i < 5000; i++) {
        const target = streamIds[Math.floor(rand() * STREAMS)];
        const res = await postJson(server.base, `${EVENTS}/broadcast`, {
          stream_id: target, type: 'churn', message: `wave ${wave}`, data: { target, n: ++n },
        });
        assert.equal(res.status, 200, `broadcast: ${res.status} ${res.text}`);
        posted++;
      }
    }));

    const targets = Array.from({ length: PER_WAVE }, (_, i) => streamIds[i % STREAMS]);
    const conns = await pool(targets, CONNECT_CONCURRENCY, async (stream) => {
      const conn = await connect(stream);
      assert.equal(conn.s.status, 200, `subscribe ${stream}: ${conn.s.status}`);
      // Random early closes: before the subscription is even confirmed,
      // right after it, or after its first broadcast; the rest stay open.
      const r = rand();
      if (r < 0.1) { await closeConn(conn); conn.early = true; return conn; }
      await conn.s.nextEvent((e) => e.json && e.json.type === 'connection');
      if (r < 0.25) { await closeConn(conn); conn.early = true; return conn; }
      if (r < 0.4) {
        await conn.s.nextEvent((e) => e.json && e.json.type === 'churn', { timeout: 1000 }).catch(() => {});
        await closeConn(conn);
        conn.early = true;
      }
      return conn;
    }).finally(() => { publishing = false; });
    await publisher;

    // Each surviving connection must get the end-of-wave marker of its stream.
    const endMark = -(wave + 1);
    await Promise.all(streamIds.map((target) => postJson(server.base, `${EVENTS}/broadcast`, {
      stream_id: target, type: 'churn_end', message: 'end', data: { target, n: endMark },
    }).then((res) => assert.equal(res.status, 200))));
    const survivors = conns.filter((c) => !c.early);
    await Promise.all(survivors.map((c) => c.s.nextEvent(
      (e) => e.json && e.json.data && e.json.data.n === endMark,
      { what: `end of wave ${wave} on ${c.stream}` })));

    for (const c of conns) {
      checkDelivery(c, failures);
      delivered += c.s.events.length;
      connections++;
    }
    await Promise.all(survivors.map(closeConn));
    assert.deepEqual(failures.slice(0, 10), [], `misdelivered events (${failures.length})`);
  }
  t.diagnostic(`${connections} connections, ${posted} broadcasts posted, ${delivered} events delivered`);
  assert.equal(connections, WAVES * PER_WAVE);
  assert.ok(posted > 0, 'the publisher posted during the waves');

  // All clients gone: /streams counts 0 on every churn stream within 2 s.
  await waitFor(async () => {
    const data = await streamsOf(server.base, EVENTS);
    return streamIds.every((id) => !data[id] || data[id].clients === 0);
  }, 'zero clients on the churn streams', { timeout: Math.max(2000, DEADLINE_MS / 5) });
  assert.equal(server.alive(), true, 'server alive');
  const res = await postJson(server.base, `${EVENTS}/broadcast`, { stream_id: 'churn-0', type: 'x', message: 'y' });
  assert.equal(res.status, 200, 'server still answers');
});

async function cycles(count) {
  await pool(Array.from({ length: count }, (_, i) => streamIds[i % STREAMS]), CYCLE_CONCURRENCY, async (stream) => {
    const conn = await connect(stream);
    await conn.s.nextEvent((e) => e.json && e.json.type === 'connection');
    await closeConn(conn);
  });
}

async function settled() {
  await waitFor(async () => {
    const data = await streamsOf(server.base, EVENTS);
    return streamIds.every((id) => !data[id] || data[id].clients === 0);
  }, 'zero clients after the cycles');
}

test('1,000 connect/disconnect cycles leak neither fds nor memory', async (t) => {
  const pid = server.pid;
  // Warm-up at the same concurrency, so pools, arenas and buffers sized for
  // that peak already exist in the baseline.
  await cycles(WARMUP_CYCLES);
  await settled();
  const fd0 = fdCount(pid);
  const rss0 = rssKb(pid);

  await cycles(CYCLES);
  await settled();

  // fds: each leaked connection would keep its socket, so 1,000 cycles with
  // any per-connection fd leak would add hundreds. 20 allows for sockets the
  // server has not reaped yet and for timers/eventfds created lazily.
  const fdGrowth = await waitFor(() => {
    const g = fdCount(pid) - fd0;
    return g < 20 ? { g } : false;
  }, `fd count back within 20 of ${fd0} (now ${fdCount(pid)})`).then((x) => x.g);
  assert.ok(fdGrowth < 20, `fd growth ${fdGrowth}`);

  // RSS: a per-connection leak of even 10 KiB (a peer, a mailbox, a buffer)
  // shows as 10 MB over 1,000 cycles, while allocator caching for at most
  // CYCLE_CONCURRENCY concurrent connections is already in the warm-up
  // baseline; so less than 10 MB growth means no per-connection leak.
  // Under AddressSanitizer RSS says nothing about leaks (its quarantine keeps
  // freed memory on purpose, up to 256 MB); LeakSanitizer checks that build
  // at exit instead.
  const rssGrowthKb = rssKb(pid) - rss0;
  t.diagnostic(`fds ${fd0} -> +${fdGrowth}, RSS ${rss0} KiB -> +${rssGrowthKb} KiB${isAsan(pid) ? ' (ASan build)' : ''}`);
  if (!isAsan(pid)) {
    assert.ok(rssGrowthKb < 10 * 1024, `RSS grew by ${rssGrowthKb} KiB (from ${rss0} KiB)`);
  }
  assert.equal(server.alive(), true);
  const code = await server.stop('SIGTERM');
  assert.equal(code, 0, `exit code after churn: ${code}\n${server.stderrText().slice(-2000)}`);
  server = null;
});
