#!/usr/bin/env node
// The workloads of the Rust `bench` example (examples/bench) with the official
// socket.io-client 2.0.4, for side-by-side figures (benches/compare runs all of them).
//
// Usage:
//   node bench-client.js --url http://127.0.0.1:PORT/chat [--token-type jwt|oauth]
//                        [--token T] [--timeout SECS]
//                        ([--clients N] [--messages M] [--window W] | --idle N)
//
// Fan-out (default 10 clients, 5000 messages, window 64): every client subscribes to space
// `bench`; client 0 sends M chat messages {"bodyText":"m<i>","ts":"<send time ns>"} keeping at
// most W unconfirmed (paced by its own MESSAGE_SENT echoes); every client must receive all M.
// --idle N: N connections subscribed to idle-0 … idle-49, at most 200 opening at once.
//
// stdout: one JSON line with the same keys as `bench` ("client":"js"). cpu_s is
// process.cpuUsage() over the run (fan-out: first send to last delivery, like `bench`);
// rss_mb is the peak of process.memoryUsage().rss, sampled every 50 ms. Exit 0 done,
// 1 failure (missing deliveries, timeout), 2 usage error.
'use strict';

const io = require('socket.io-client');

const FANOUT_SPACE = 'bench';
const IDLE_SPACES = 50;
const CONNECTING_AT_ONCE = 200;
const IDLE_SETTLE_MS = 2000;

function parseArgs(argv) {
  const opts = { url: null, tokenType: 'jwt', token: 'bench', timeout: 120, clients: 10, messages: 5000, window: 64, idle: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    const v = argv[++i];
    const count = () => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) usage(`${a} needs a positive number, got ${JSON.stringify(v)}`);
      return n;
    };
    switch (a) {
      case '--url': opts.url = v; break;
      case '--token': opts.token = v; break;
      case '--token-type':
        if (v !== 'jwt' && v !== 'oauth') usage(`--token-type is jwt or oauth, not ${JSON.stringify(v)}`);
        opts.tokenType = v;
        break;
      case '--timeout': opts.timeout = count(); break;
      case '--clients': opts.clients = count(); break;
      case '--messages': opts.messages = count(); break;
      case '--window': opts.window = count(); break;
      case '--idle': opts.idle = count(); break;
      default: usage(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  if (!opts.url) usage('--url is required');
  return opts;
}

function usage(msg) {
  process.stderr.write(`bench-client: ${msg}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 50);
const mb = (bytes) => Number((bytes / (1024 * 1024)).toFixed(1));
const cpuSecs = (since) => {
  const used = process.cpuUsage(since);
  return Number(((used.user + used.system) / 1e6).toFixed(3));
};

// Wall-clock nanoseconds since the epoch (sub-millisecond through performance.now()).
const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

const sockets = [];
let finished = false;
function finish(code, line) {
  if (finished) return; // closing the sockets below fires their 'disconnect'
  finished = true;
  clearInterval(sampler);
  if (code === 0) process.stdout.write(`${line}\n`);
  else process.stderr.write(`bench-client: ${line}\n`);
  for (const s of sockets) s.close();
  setTimeout(() => process.exit(code), 20);
}

setTimeout(() => finish(1, `timed out after ${opts.timeout} s (${progress()})`), opts.timeout * 1000).unref();
let progress = () => 'connecting';

// One connection subscribed to `space`; `onEvent(name, data)` sees every later event.
function open(space, onSubscribed) {
  const socket = io(opts.url, {
    transports: ['websocket'],
    query: { tokenType: opts.tokenType, token: opts.token },
    forceNew: true,
    reconnection: false,
  });
  sockets.push(socket);
  const fail = (what) => finish(1, what);
  socket.on('connect', () => socket.emit('SUBSCRIBE_CHANNEL', { channel: { _id: space, type: 'topic' } }));
  socket.on('CHANNEL_SUBSCRIBED', (data) => {
    if (data && data.channel && data.channel._id === space) onSubscribed(socket);
  });
  socket.on('SUBSCRIBE_CHANNEL_FAILED', (data) => fail(`subscribing failed: ${JSON.stringify(data && data.error)}`));
  socket.on('SEND_MESSAGE_FAILED', (data) => fail(`a message failed: ${JSON.stringify(data && data.error)}`));
  socket.on('error', (err) => fail(`error: ${err && err.message ? err.message : JSON.stringify(err)}`));
  socket.on('connect_error', (err) => fail(`connect_error: ${err && err.message}`));
  socket.on('disconnect', (reason) => fail(`disconnected: ${reason}`));
  return socket;
}

function fanOut() {
  const { clients, messages, window } = opts;
  const latencies = [];
  const received = new Array(clients).fill(0);
  let subscribed = 0;
  let sent = 0;
  let done = 0;
  let start = null;
  let cpuStart = null;
  progress = () => `${latencies.length} of ${clients * messages} deliveries`;
  const sender = () => sockets[0];
  const sendSome = () => {
    while (sent < messages && sent - received[0] < window) {
      sender().emit('SEND_MESSAGE', {
        topicId: FANOUT_SPACE,
        category: 'chat',
        content: { bodyText: `m${sent}`, ts: nowNs().toString() },
        loopbackMetadata: `js-${sent}`,
      });
      sent++;
    }
  };
  for (let i = 0; i < clients; i++) {
    const socket = open(FANOUT_SPACE, () => {
      if (++subscribed === clients) {
        start = process.hrtime.bigint();
        cpuStart = process.cpuUsage();
        sendSome();
      }
    });
    socket.on('MESSAGE_SENT', (msg) => {
      if (!msg || msg.topicId !== FANOUT_SPACE || !msg.content || typeof msg.content.ts !== 'string') return;
      latencies.push(Number(nowNs() - BigInt(msg.content.ts)));
      received[i]++;
      if (i === 0) sendSome();
      if (received[i] === messages && ++done === clients) {
        const secs = Number(process.hrtime.bigint() - start) / 1e9;
        const cpu = cpuSecs(cpuStart);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        latencies.sort((a, b) => a - b);
        const pct = (p) => latencies[Math.max(1, Math.ceil((latencies.length * p) / 100)) - 1] / 1e6;
        finish(0, `{"client":"js","runtime":"node","clients":${clients},"messages":${messages},"window":${window},`
          + `"deliveries":${latencies.length},"secs":${secs.toFixed(3)},"deliveries_per_s":${Math.round(latencies.length / secs)},`
          + `"cpu_s":${cpu.toFixed(3)},"p50_ms":${pct(50).toFixed(2)},`
          + `"p99_ms":${pct(99).toFixed(2)},"rss_mb":${mb(peakRss).toFixed(1)}}`);
      }
    });
  }
}

function idle() {
  const connections = opts.idle;
  const rssBefore = process.memoryUsage().rss;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let opened = 0;
  let ready = 0;
  progress = () => `${ready} of ${connections} connections subscribed`;
  const openNext = () => {
    if (opened >= connections) return;
    const index = opened++;
    open(`idle-${index % IDLE_SPACES}`, () => {
      ready++;
      openNext();
      if (ready === connections) settled();
    });
  };
  const settled = () => {
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = cpuSecs(cpuStart);
    setTimeout(() => {
      const rss = process.memoryUsage().rss;
      peakRss = Math.max(peakRss, rss);
      finish(0, `{"client":"js","runtime":"node","connections":${connections},"connect_secs":${secs.toFixed(3)},`
        + `"cpu_s":${cpu.toFixed(3)},"rss_mb":${mb(peakRss).toFixed(1)},`
        + `"kib_per_conn":${(Math.max(0, rss - rssBefore) / 1024 / connections).toFixed(1)}}`);
    }, IDLE_SETTLE_MS);
  };
  for (let i = 0; i < Math.min(CONNECTING_AT_ONCE, connections); i++) openNext();
}

if (opts.idle !== null) idle();
else fanOut();
