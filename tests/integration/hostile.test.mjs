// Hostile input over raw sockets: garbage request lines, huge header lines,
// truncated bodies, invalid UTF-8, NUL bytes, odd stream ids, thousands of
// rapid connect/close cycles and half-open connections. After each the server
// is alive, and a subscriber connected before it all keeps receiving
// broadcasts and never sees an event it was not addressed to.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import {
  startServer, subscribe, sseConnect, broadcast, clientsOf, waitFor, pool, fdCount, observe,
  DEADLINE_MS, EVENTS,
} from './harness.mjs';
import { httpRequest, isConnection, SSE_HEADERS } from './clients.mjs';

const HEADER_TIMEOUT_MS = 2000;
let server;
let witness; // subscribed to EVENTS/stream/witness before anything hostile
const expected = new Set(); // markers of the events the witness may see
const open = new Set();

before(async () => {
  server = await startServer({
    config: `server:\n  header_timeout: ${HEADER_TIMEOUT_MS}ms\n  body_timeout: ${HEADER_TIMEOUT_MS}ms\n` +
      '  keepalive_timeout: 2s\n',
  });
  witness = await subscribe(`${server.base}${EVENTS}/stream/witness`);
});

after(async () => {
  for (const s of open) s.destroy();
  if (witness) witness.close();
  if (server) await server.stop('SIGKILL');
});

let seq = 0;
const marker = () => `hostile${process.pid}-${++seq}`;

/**
 * The server is alive, the witness receives a fresh broadcast, and every
 * event it ever got is one addressed to it (stream `witness`, a marker we
 * sent on purpose).
 */
async function witnessOk(what) {
  assert.equal(server.alive(), true, `server alive after ${what}\n${server.stderrText().slice(-2000)}`);
  const m = marker();
  expected.add(m);
  await broadcast(server.base, EVENTS, { stream_id: 'witness', type: 'witness', message: what, data: { marker: m } });
  await witness.nextEvent((e) => e.json && e.json.data && e.json.data.marker === m, { what: `the witness broadcast after ${what}` });
  assert.equal(witness.closed, undefined, `the witness is still connected after ${what}`);
  const stray = witness.events.filter((e) => !isConnection(e) &&
    !(e.json && e.json.stream_id === 'witness' && e.json.data && expected.has(e.json.data.marker)));
  assert.deepEqual(stray.map((e) => e.data.slice(0, 200)), [], `events the witness was not addressed to (after ${what})`);
  assert.deepEqual(witness.errors, [], `the witness stream stays well-formed (after ${what})`);
}

/**
 * Writes `bytes` on a fresh connection (optionally ending our side) and
 * waits, up to `timeout`, for the server to close or to answer completely.
 * Resolves to {status (0: none), head, body, closed, timedOut}.
 */
function exchange(bytes, { end = false, timeout = DEADLINE_MS } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port });
    open.add(socket);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (extra) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = buf.toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      const head = at >= 0 ? text.slice(0, at) : text;
      const m = head.match(/^HTTP\/1\.[01] (\d{3})/);
      resolve({ status: m ? Number(m[1]) : 0, head, body: at >= 0 ? text.slice(at + 4) : '', raw: text, ...extra });
      socket.destroy();
      open.delete(socket);
    };
    const timer = setTimeout(() => finish({ closed: false, timedOut: true }), timeout);
    socket.on('connect', () => {
      socket.write(bytes);
      if (end) socket.end();
    });
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      if (at < 0) return;
      const head = text.slice(0, at);
      if (/content-type:\s*text\/event-stream/i.test(head)) { finish({ closed: false, sse: true }); return; }
      const cl = head.match(/content-length:\s*(\d+)/i);
      if (cl && Buffer.byteLength(text.slice(at + 4), 'latin1') >= Number(cl[1])) finish({ closed: false });
    });
    socket.on('error', () => { /* a reset is a close */ });
    socket.on('close', () => finish({ closed: true }));
  });
}

const bin = (s) => Buffer.from(s, 'latin1');
/** Deterministic pseudo-random bytes. */
function noise(n, seed) {
  let x = seed >>> 0 || 1;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * An answer, if any, is a well-formed HTTP response; `notOk`: and a client
 * error (4xx: the request is at fault, not the server).
 */
function checkAnswer(name, r, { notOk = true } = {}) {
  assert.equal(r.timedOut, undefined, `${name}: neither answered nor closed within ${DEADLINE_MS} ms`);
  if (r.raw.length > 0) {
    assert.match(r.raw, /^HTTP\/1\.[01] \d{3} /, `${name}: a well-formed answer (${JSON.stringify(r.raw.slice(0, 80))})`);
    if (notOk) {
      assert.ok(r.status >= 400 && r.status < 500,
        `${name}: answered ${r.status}, expected a 4xx (${JSON.stringify(r.raw.slice(0, 160))})`);
    }
  }
}

test('garbage request lines: each is refused or closed; the server and the witness carry on', async (t) => {
  const cases = [
    ['words', bin('HELLO WORLD\r\n\r\n')],
    ['method only', bin('GET\r\n\r\n')],
    ['HTTP/9.9', bin('GET /api/v1/events/streams HTTP/9.9\r\nHost: x\r\n\r\n')],
    ['TLS hello', Buffer.concat([bin('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'), noise(500, 7)])],
    ['unknown method', bin('BREW /api/v1/events/broadcast HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['header without colon', bin('GET /api/v1/events/stream/witness HTTP/1.1\r\nNoColonHere\r\n\r\n')],
    ['bad percent escape', bin('GET /api/v1/events/stream/%%%zz HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['blank lines', bin('\r\n\r\n\r\n\r\n')],
    ['binary noise', noise(4096, 42)],
    ['negative Content-Length', bin(`POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n`)],
    ['huge Content-Length', bin(`POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}`)],
    ['bad chunked body', bin(`POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n0\r\n\r\n`)],
    ['bare LF', bin('GET /api/v1/events/streams HTTP/1.1\nHost: x\n\n')],
    ['request line of 64 KiB', bin(`GET /${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`)],
  ];
  // Those a lenient parser may answer as an ordinary request.
  const mayAnswer = new Set(['HTTP/9.9', 'header without colon', 'bare LF', 'bad chunked body']);
  const results = await Promise.all(cases.map(([, bytes]) => exchange(bytes)));
  const summary = results.map((r, i) => `${cases[i][0]}: ${r.status || (r.closed ? 'closed' : '?')}`);
  t.diagnostic(summary.join('; '));
  await witnessOk(`garbage request lines (${summary.join(', ')})`);
  const failures = [];
  for (const [i, [name]] of cases.entries()) {
    try { checkAnswer(name, results[i], { notOk: !mayAnswer.has(name) }); } catch (err) { failures.push(err.message); }
  }
  assert.deepEqual(failures, [], 'malformed requests answered with a 4xx or closed');
});

test('a 64 KiB header line, a 1 MiB one and 5,000 headers: bounded answers, no crash', async (t) => {
  const big = await exchange(bin(`GET ${EVENTS}/streams HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`));
  checkAnswer('64 KiB header', big, { notOk: false });
  const huge = await exchange(bin(`GET ${EVENTS}/streams HTTP/1.1\r\nHost: x\r\nX-Huge: ${'h'.repeat(1024 * 1024)}\r\n\r\n`));
  checkAnswer('1 MiB header', huge);
  const many = Array.from({ length: 5000 }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
  const lots = await exchange(bin(`GET ${EVENTS}/streams HTTP/1.1\r\nHost: x\r\n${many}\r\n`));
  checkAnswer('5,000 headers', lots, { notOk: false });
  // A big Last-Event-ID on a subscribe: treated as unknown or refused, never a crash.
  const lei = await exchange(bin(`GET ${EVENTS}/stream/hdr-target HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${'9'.repeat(60 * 1024)}\r\n\r\n`));
  checkAnswer('60 KiB Last-Event-ID', lei, { notOk: false });
  t.diagnostic(`64 KiB: ${big.status || 'closed'}, 1 MiB: ${huge.status || 'closed'}, 5,000 headers: ${lots.status || 'closed'}, ` +
    `60 KiB Last-Event-ID: ${lei.status || 'closed'}`);
  await witnessOk('huge headers');
});

test('Content-Length 100 with 10 bytes: closed early, or left waiting until body_timeout; nothing published', async () => {
  const head = `POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
  const part = '{"stream_i'; // 10 bytes
  const m = marker();
  // Our side closes after the 10 bytes.
  const closed = await exchange(bin(head + part), { end: true });
  checkAnswer('truncated body, then FIN', closed);
  // Our side stays: the body timeout cuts it.
  const t0 = Date.now();
  const waiting = await exchange(bin(head + part));
  checkAnswer('truncated body, connection kept', waiting);
  assert.ok(Date.now() - t0 < HEADER_TIMEOUT_MS + 2000, `cut after ${Date.now() - t0} ms`);
  // A full-looking body shorter than its Content-Length is not published either.
  const body = JSON.stringify({ stream_id: 'witness', type: 'short', message: 'x', data: { marker: m } });
  const short = await exchange(bin(`POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length + 50}\r\n\r\n${body}`), { end: true });
  checkAnswer('a complete JSON body shorter than Content-Length', short);
  await witnessOk('truncated bodies');
  assert.equal(witness.events.some((e) => e.json && e.json.data && e.json.data.marker === m), false,
    'a body shorter than its Content-Length reached the witness');
});

test('invalid UTF-8 in a JSON body: 400 invalid_json, never forwarded', async (t) => {
  const m = marker();
  const wrap = (prefix, bad, suffix) => Buffer.concat([bin(prefix), bin(bad), bin(suffix)]);
  const meta = `"stream_id":"witness","data":{"marker":"${m}"}`;
  const bodies = [
    ['0xFF in message', wrap(`{${meta},"type":"utf8","message":"a`, '\xff', 'b"}')],
    ['overlong "/"', wrap(`{${meta},"type":"utf8","message":"a`, '\xc0\xaf', 'b"}')],
    ['truncated sequence', wrap(`{${meta},"type":"utf8","message":"a`, '\xe2\x82', '"}')],
    ['UTF-8 encoded surrogate', wrap(`{${meta},"type":"utf8","message":"a`, '\xed\xa0\x80', 'b"}')],
    ['beyond U+10FFFF', wrap(`{${meta},"type":"utf8","message":"a`, '\xf4\x90\x80\x80', 'b"}')],
    ['lone continuation in type', wrap(`{${meta},"type":"ut`, '\x80', 'f8","message":"x"}')],
    ['invalid in a data value', wrap(`{"stream_id":"witness","type":"utf8","message":"x","data":{"marker":"${m}","v":"`, '\xfe', '"}}')],
    ['invalid in a data key', wrap(`{"stream_id":"witness","type":"utf8","message":"x","data":{"marker":"${m}","`, '\xff', '":1}}')],
    ['invalid in stream_id', wrap('{"stream_id":"wit', '\xff', `ness","type":"utf8","message":"x","data":{"marker":"${m}"}}`)],
    ['invalid in an unknown key', wrap(`{${meta},"type":"utf8","message":"x","`, '\xff', '":1}')],
    ['invalid in an unknown value', wrap(`{${meta},"type":"utf8","message":"x","extra":"`, '\xff', '"}')],
    ['lone surrogate escape', bin(`{${meta},"type":"utf8","message":"a\\ud800b"}`)],
  ];
  const failures = [];
  for (const [name, body] of bodies) {
    const res = await httpRequest(server.base, 'POST', `${EVENTS}/broadcast`, { body });
    const code = res.json && res.json.error && res.json.error.code;
    if (res.status !== 400 || code !== 'invalid_json') failures.push(`${name}: ${res.status} ${res.text.slice(0, 160)}`);
    else if (res.json.success !== false) failures.push(`${name}: no error envelope ${res.text}`);
  }
  await witnessOk('invalid UTF-8 bodies');
  assert.equal(witness.events.some((e) => e.json && e.json.type === 'utf8'), false, 'an invalid body reached the witness');
  t.diagnostic(`${bodies.length - failures.length} of ${bodies.length} answered 400 invalid_json`);
  assert.deepEqual(failures, [], 'every invalid UTF-8 body answers 400 invalid_json');
});

test('NUL bytes: raw in JSON, in the path, in headers; an escaped \\u0000 travels intact', async () => {
  const m = marker();
  // Raw NUL inside a JSON string is a control character: malformed JSON.
  const raw = await httpRequest(server.base, 'POST', `${EVENTS}/broadcast`, {
    body: bin(`{"stream_id":"witness","type":"nul","message":"a\x00b","data":{"marker":"${m}"}}`),
  });
  assert.equal(raw.status, 400, raw.text);
  assert.equal(raw.json && raw.json.error.code, 'invalid_json', raw.text);
  // NUL in the stream_id (escaped): an invalid stream id.
  const sid = await httpRequest(server.base, 'POST', `${EVENTS}/broadcast`, {
    body: { stream_id: 'wit\u0000ness', type: 'nul', message: 'x', data: { marker: m } },
  });
  assert.equal(sid.status, 400, sid.text);
  assert.equal(sid.json && sid.json.error.code, 'invalid_field', sid.text);
  assert.equal(sid.json.error.field, 'stream_id', sid.text);
  // NUL in the request line and in a header.
  const path = await exchange(bin(`GET ${EVENTS}/stream/wit\x00ness HTTP/1.1\r\nHost: x\r\n\r\n`));
  checkAnswer('NUL in the path', path);
  const hdr = await exchange(bin(`GET ${EVENTS}/stream/nul-target HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1\x002\r\nX-A: \x00\x00\r\n\r\n`));
  checkAnswer('NUL in headers', hdr, { notOk: false });
  const body0 = await exchange(Buffer.concat([bin(`POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nContent-Length: 64\r\n\r\n`), Buffer.alloc(64)]));
  checkAnswer('64 NUL bytes as the body', body0);
  // An escaped NUL is valid JSON: published, it must reach the witness intact.
  const m2 = marker();
  expected.add(m2);
  const esc = await httpRequest(server.base, 'POST', `${EVENTS}/broadcast`, {
    body: { stream_id: 'witness', type: 'nul_escaped', message: 'a\u0000b', data: { marker: m2, v: '\u0000' } },
  });
  if (esc.status === 200) {
    const e = await witness.nextEvent((x) => x.json && x.json.data && x.json.data.marker === m2);
    assert.equal(e.json.message, 'a\u0000b', `the message arrives intact: ${JSON.stringify(e.data)}`);
    assert.equal(e.json.data.v, '\u0000');
  } else {
    assert.equal(esc.status, 400, esc.text);
  }
  await witnessOk('NUL bytes');
  assert.equal(witness.events.some((e) => e.json && e.json.type === 'nul'), false, 'a refused NUL body reached the witness');
});

test('stream ids with unicode, percent-encoding and path tricks: refused, nothing leaks', async (t) => {
  const paths = [
    `${EVENTS}/stream/%C3%A9t%C3%A9`,
    `${EVENTS}/stream/${'\xc3\xa9t\xc3\xa9'}`, // raw UTF-8 bytes (latin1 on the wire)
    `${EVENTS}/stream/..%2F..%2Fetc%2Fpasswd`,
    `${EVENTS}/stream/../streams`,
    `${EVENTS}/stream/wit%00ness`,
    `${EVENTS}/stream/witness%0D%0AX-Injected:%201`,
    `${EVENTS}/stream/${'x'.repeat(129)}`,
    `${EVENTS}/stream/.hidden`,
    `${EVENTS}/stream/-dash`,
  ];
  const results = [];
  for (const p of paths) {
    const r = await exchange(bin(`GET ${p} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`));
    results.push(`${p.slice(EVENTS.length)}: ${r.status || 'closed'}`);
    checkAnswer(p, r);
    assert.doesNotMatch(r.head, /X-Injected/i, `${p}: no header injection`);
    if (r.status === 400) {
      const json = JSON.parse(r.body);
      assert.equal(json.success, false);
      assert.ok(['invalid_stream_id', 'not_found'].includes(json.error.code), `${p}: ${r.body}`);
    }
  }
  // Percent-encoded ordinary characters: either decoded (then it is the
  // witness stream itself) or refused.
  const enc = await exchange(bin(`GET ${EVENTS}/stream/%77itness HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`));
  results.push(`/stream/%77itness: ${enc.status || 'closed'}`);
  assert.ok([200, 400, 404].includes(enc.status), `%77itness: ${enc.status}`);
  // Broadcasts with such stream ids: 400 invalid_field on stream_id.
  const m = marker();
  for (const id of ['été', 'wit%6Eess', 'a/b', '../witness', 'x'.repeat(129), ' witness', 'witness\n']) {
    const res = await httpRequest(server.base, 'POST', `${EVENTS}/broadcast`, {
      body: { stream_id: id, type: 'badid', message: 'x', data: { marker: m } },
    });
    assert.equal(res.status, 400, `stream_id ${JSON.stringify(id)}: ${res.status} ${res.text}`);
    assert.equal(res.json.error.code, 'invalid_field', res.text);
    assert.equal(res.json.error.field, 'stream_id', res.text);
  }
  for (const op of ['start', 'stop', 'pause', 'resume']) {
    const res = await httpRequest(server.base, 'POST', `${EVENTS}/stream/%C3%A9t%C3%A9/${op}`);
    assert.equal(res.status, 400, `${op} of a unicode stream id: ${res.status} ${res.text}`);
  }
  t.diagnostic(results.join('; '));
  await witnessOk('odd stream ids');
  assert.equal(witness.events.some((e) => e.json && e.json.type === 'badid'), false);
});

test('2,000 rapid connect/close cycles: bounded, no fd leak, the witness unaffected', async (t) => {
  const fd0 = fdCount(server.pid);
  const CYCLES = 2000;
  const t0 = Date.now();
  const full = (stream) => bin(`GET ${EVENTS}/stream/${stream} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
  const post = bin(`POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 45\r\n\r\n` +
    '{"stream_id":"cyc-target","type":"c","message":"m"}'.slice(0, 45));
  await pool(Array.from({ length: CYCLES }, (_, i) => i), 50, (i) => new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port });
    const bail = setTimeout(() => socket.destroy(), DEADLINE_MS);
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(bail); resolve(); });
    socket.on('connect', () => {
      switch (i % 5) {
        case 0: socket.destroy(); break; // connect, close
        case 1: socket.write('GET /api/v1/ev'); socket.destroy(); break; // partial line
        case 2: socket.write(full(`cyc-${i % 7}`)); socket.destroy(); break; // subscribe, vanish
        case 3: socket.write(full(`cyc-${i % 7}`)); socket.once('data', () => socket.destroy()); break; // after the head
        default: socket.write(post); socket.end(); socket.resume(); break; // truncated POST, FIN
      }
    });
  }));
  const took = Date.now() - t0;
  const fdGrowth = await waitFor(() => {
    const g = fdCount(server.pid) - fd0;
    return g < 20 ? { g } : false;
  }, `fd count back within 20 of ${fd0} (now ${fdCount(server.pid)})`).then((x) => x.g);
  await waitFor(async () => {
    for (let k = 0; k < 7; k++) if (await clientsOf(server.base, EVENTS, `cyc-${k}`) !== 0) return false;
    return true;
  }, 'no clients left on the cycle streams');
  t.diagnostic(`${CYCLES} cycles in ${took} ms; fds ${fd0} -> +${fdGrowth}`);
  assert.ok(took < 60_000, `cycles took ${took} ms`);
  await witnessOk('rapid connect/close cycles');
});

test('half-open connections: idle ones are closed by header_timeout, half-closed ones are released', async (t) => {
  // 100 connections that never send a byte.
  const idle = await pool(Array.from({ length: 100 }), 50, () => new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: server.port }, () => { s.resume(); resolve(s); });
    open.add(s);
    s.on('error', () => {});
    s.once('error', reject);
  }));
  const t0 = Date.now();
  const idleClosed = idle.map((s) => new Promise((r) => (s.destroyed ? r() : s.once('close', r))));
  // The server serves others meanwhile.
  await witnessOk('100 idle connections open');
  await waitFor(() => idle.every((s) => s.destroyed || s.readableEnded), 'the server to close the idle connections',
    { timeout: HEADER_TIMEOUT_MS + DEADLINE_MS / 2 }).catch((err) => {
    throw new Error(`${err.message}; ${idle.filter((s) => !(s.destroyed || s.readableEnded)).length} of 100 still open`);
  });
  t.diagnostic(`100 idle connections closed after ${Date.now() - t0} ms`);
  for (const s of idle) s.destroy();
  await Promise.all(idleClosed);

  // A plain request, then our FIN: answered (or closed), never hanging.
  const half = await exchange(bin('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'), { end: true });
  checkAnswer('GET /health then FIN', half, { notOk: false });

  // Subscribers that send their request then half-close: released.
  const subs = [];
  for (let i = 0; i < 10; i++) {
    const s = await sseConnect(`${server.base}${EVENTS}/stream/halfopen`, { headers: SSE_HEADERS });
    subs.push(s);
    await s.nextEvent(isConnection);
    s.socket.end(); // FIN from us; we still read
  }
  await waitFor(async () => await clientsOf(server.base, EVENTS, 'halfopen') === 0, 'the half-closed subscribers to be released');
  await Promise.all(subs.map((s) => s.waitEnd()));
  await witnessOk('half-open connections');
});

test('pipelined requests on one connection: every one answered, in order', async (t) => {
  // Valid HTTP/1.1, though rare: three requests in one write. Each must get
  // its answer, in request order (RFC 9112, 9.3.2), or the client hangs.
  const m = marker();
  expected.add(m);
  const body = JSON.stringify({ stream_id: 'witness', type: 'witness', message: 'pipelined', data: { marker: m } });
  const reqs = `POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
    'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' +
    `GET ${EVENTS}/streams HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
  const text = await new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port }, () => socket.write(reqs));
    open.add(socket);
    let got = '';
    const timer = setTimeout(() => { socket.destroy(); resolve(got); }, 3000);
    socket.on('data', (d) => { got += d.toString('utf8'); });
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve(got); });
  });
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((x) => Number(x[1]));
  const order = [/Event broadcasted to stream: witness/, /"status":"ok"/, /"witness":\{/]
    .map((re) => { const i = text.search(re); return i; });
  t.diagnostic(`answers: ${statuses.join(', ') || 'none'}; positions of broadcast/health/streams bodies: ${order}`);
  await witnessOk('pipelined requests');
  assert.equal(statuses.length, 3, `three answers to three pipelined requests (got ${statuses.length}: ${JSON.stringify(text.slice(0, 300))})`);
  assert.deepEqual(statuses, [200, 200, 200]);
  assert.ok(order.every((x) => x >= 0) && order[0] < order[1] && order[1] < order[2], `in request order: ${order}`);
});

// Late in the file: under AddressSanitizer a multi-GiB allocation aborts the
// server, which would mask the tests above.
test('a huge declared Content-Length is refused without reserving that memory', async (t) => {
  const vmKb = () => Number(readFileSync(`/proc/${server.pid}/status`, 'utf8').match(/^VmSize:\s+(\d+)/m)[1]);
  const vm0 = vmKb();
  // Four connections each declaring 16 GiB (far above max_body_bytes), then
  // sending 10 bytes and waiting.
  const declared = 16 * 1024 ** 3;
  const socks = await Promise.all(Array.from({ length: 4 }, () => new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port }, () => {
      socket.write(`POST ${EVENTS}/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${declared}\r\n\r\n{"type":"x"`);
      resolve(socket);
    });
    open.add(socket);
    socket.got = '';
    socket.on('data', (d) => { socket.got += d.toString('latin1'); });
    socket.on('error', () => {});
  })));
  // Absence check over a window: the server must not grow by the declared sizes.
  await observe(500);
  const vm1 = vmKb();
  const answers = socks.map((x) => (x.got.match(/^HTTP\/1\.[01] (\d{3})/) || [0, x.destroyed ? 'closed' : 'waiting'])[1]);
  for (const x of socks) x.destroy();
  const growthMb = Math.round((vm1 - vm0) / 1024);
  t.diagnostic(`VmSize ${Math.round(vm0 / 1024)} MiB -> ${Math.round(vm1 / 1024)} MiB with 4 x Content-Length ${declared}; answers ${answers}`);
  await witnessOk('huge Content-Length');
  assert.ok(growthMb < 1024, `the server reserved ${growthMb} MiB of address space for 4 declared 16 GiB bodies`);
  for (const a of answers) assert.ok(a === 'waiting' || a === 'closed' || (Number(a) >= 400 && Number(a) < 500), `answer ${a}`);
});

test('after all of it: the witness saw only its own events and the server exits 0 on SIGTERM', async () => {
  await witnessOk('the whole file');
  await observe(100);
  const code = await server.stop('SIGTERM');
  assert.equal(code, 0, `exit code ${code}\n${server.stderrText().slice(-2000)}`);
  await witness.waitEnd();
  assert.equal(witness.log[witness.log.length - 1].kind, 'retry', 'the witness stream ended with retry:');
  server = null;
});
