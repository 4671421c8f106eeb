#!/bin/sh
# Instructions per iteration of each case of benches/codec.rs, counted by callgrind: repeatable
# where timings are not (a shared 2-core machine). Each case runs N and 2N times; the difference
# over N is one iteration, the setup (a subscribed Spaces session) cancelling out.
# Usage: benches/instructions.sh [N] [case…]   (needs valgrind; default N=2000, all cases)
set -eu
cd "$(dirname "$0")/.."
n=${1:-2000}
[ "$#" -gt 0 ] && shift
[ "$#" -gt 0 ] || set -- decode raw_value value typed encode foreign_in send_echo
bin=$(cargo bench -p spaces-socket --bench codec --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*codec-[^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "could not build the codec bench" >&2; exit 1; }
count() {
    SPACES_BENCH_PROFILE="$1:$2" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" 2>&1 |
        sed -n 's/.*Collected : //p'
}
for case in "$@"; do
    once=$(count "$case" "$n")
    twice=$(count "$case" $((2 * n)))
    echo "$case $(((twice - once) / n))"
done
