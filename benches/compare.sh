#!/bin/sh
# Runs the Rust decode benches (criterion) and the JS parser stack (node) on the same frame,
# benches/fixtures/message_sent.txt, and prints the ratios the issue asks for:
#   Rust decode / serde_json RawValue validation (goal: at most 1.5)
#   JS stack / Rust decode                        (goal: at least 5)
# Both sides report a mean over their timed runs. Timings on a shared machine are noisy:
# run it when the machine is quiet, or compare instruction counts (see SPACES_BENCH_PROFILE in
# benches/codec.rs).
# Usage: benches/compare.sh [criterion options]   (default: --warm-up-time 2 --measurement-time 5)
set -eu
cd "$(dirname "$0")/.."
[ "$#" -gt 0 ] || set -- --warm-up-time 2 --measurement-time 5
cargo bench -p spaces-socket --bench codec -- "$@" '^decode/(engine|floor|reference)' >&2
target_dir=$(cargo metadata --format-version 1 --no-deps |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
js=$(node benches/js-parser.js)
echo "$js"
node - "$target_dir/criterion" "$js" <<'JS'
const fs = require('fs');
const path = require('path');
const [dir, js] = process.argv.slice(2);
// criterion stores each benchmark under a directory named after it, with unsafe characters
// replaced; find them by the name criterion records inside.
const means = {};
for (const group of ['decode']) {
  for (const d of fs.readdirSync(path.join(dir, group))) {
    const b = path.join(dir, group, d, 'new');
    if (!fs.existsSync(path.join(b, 'benchmark.json'))) continue;
    const name = JSON.parse(fs.readFileSync(path.join(b, 'benchmark.json'))).function_id;
    means[name] = JSON.parse(fs.readFileSync(path.join(b, 'estimates.json'))).mean.point_estimate;
  }
}
const rust = means['engine+socket decode'];
const raw = means['floor: serde_json &RawValue'];
const value = means['reference: serde_json Value'];
const jsNs = JSON.parse(js).mean_ns_per_op;
const f = (x) => x.toFixed(1);
console.log(JSON.stringify({
  rust_decode_ns: Number(f(rust)), raw_value_ns: Number(f(raw)), value_ns: Number(f(value)),
  js_stack_ns: jsNs,
  decode_over_raw_value: Number((rust / raw).toFixed(3)),
  js_over_decode: Number((jsNs / rust).toFixed(2)),
}));
JS
