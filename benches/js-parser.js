// The JS parser stack of socket.io-client 2.0.4 (engine.io-parser 2.1.1 + socket.io-parser
// 3.1.2) decoding the same MESSAGE_SENT frame as benches/codec.rs, for the Rust/JS ratio.
//
// Run: node benches/js-parser.js [iterations]   (benches/codec-vs-js.sh runs both)
// Prints one JSON line: {"bench":"js-parser","ns_per_op":…,…}. The modules come from
// tests/peer/node_modules (`npm ci` there).
'use strict';

const fs = require('fs');
const path = require('path');

const peer = path.join(__dirname, '..', 'tests', 'peer', 'node_modules');
const engineParser = require(path.join(peer, 'engine.io-parser'));
const socketParser = require(path.join(peer, 'socket.io-parser'));

for (const [name, want] of [['engine.io-parser', '2.1.1'], ['socket.io-parser', '3.1.2']]) {
  const got = require(path.join(peer, name, 'package.json')).version;
  if (got !== want) {
    console.error(`${name} is ${got}, expected ${want}: run npm ci in tests/peer`);
    process.exit(1);
  }
}

const frame = fs.readFileSync(path.join(__dirname, 'fixtures', 'message_sent.txt'), 'utf8');
const iterations = Number(process.argv[2]) || 200000;

// One Decoder for the whole run, as engine.io-client/socket.io-client keep one per socket.
const decoder = new socketParser.Decoder();
let last = null;
decoder.on('decoded', (packet) => { last = packet; });

// What socket.io-client does per websocket message: engine decode, then socket decode
// (JSON.parse of the payload, synchronous 'decoded' event).
function decodeOnce() {
  const packet = engineParser.decodePacket(frame);
  decoder.add(packet.data);
  return last.data.length;
}

// Check the stack really decodes the frame before timing it.
decodeOnce();
if (!last || last.nsp !== '/chat' || last.data[0] !== 'MESSAGE_SENT') {
  console.error('the JS stack did not decode the fixture as a /chat MESSAGE_SENT event');
  process.exit(1);
}

function run(n) {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += decodeOnce();
  const ns = Number(process.hrtime.bigint() - start);
  if (sink !== 2 * n) throw new Error('unexpected decode result');
  return ns / n;
}

// Warm up until the JIT has settled, then take the best of five timed rounds (as stable a
// figure as this noisy machine gives; the mean of the rounds is printed too).
run(Math.max(1000, iterations / 4));
const rounds = [];
for (let r = 0; r < 5; r++) rounds.push(run(iterations));
const best = Math.min(...rounds);
const mean = rounds.reduce((a, b) => a + b, 0) / rounds.length;
console.log(JSON.stringify({
  bench: 'js-parser',
  frame_bytes: Buffer.byteLength(frame),
  iterations,
  ns_per_op: Number(best.toFixed(1)),
  mean_ns_per_op: Number(mean.toFixed(1)),
  node: process.version,
}));
