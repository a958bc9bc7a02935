#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ for SECONDS each (default 20, a smoke
# run) and prints executions and crashes per target. The corpora grow in
# place under fuzz/corpus/; a crash is written to fuzz/artifacts/<target>/
# and fails the run. Needs the nightly toolchain and cargo-fuzz (installed
# here when missing).
#
#   scripts/fuzz.sh                 # every target, 20 s each
#   scripts/fuzz.sh 600 series_csv  # one target, 10 minutes
#   FUZZ_MINIMIZE=1 scripts/fuzz.sh 0   # only shrink the corpora (cargo fuzz cmin)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^vpp-fuzz$')
fi
# One target folder for the whole project: fuzz builds go under target/fuzz.
# Every target is built once up front and its binary run directly, so
# editing the sources while a long run goes on changes nothing in it.
fuzz=(cargo +nightly fuzz)
opts=(--target-dir target/fuzz)
"${fuzz[@]}" build "${opts[@]}"
bin=target/fuzz/x86_64-unknown-linux-gnu/release
mkdir -p target/fuzz-logs
failed=0
printf '%-16s %12s %8s %s\n' target executions crashes corpus
for t in "${targets[@]}"; do
  log=target/fuzz-logs/$t.log
  if [ "${FUZZ_MINIMIZE:-0}" = 1 ]; then
    "${fuzz[@]}" cmin "${opts[@]}" "$t" >"$log" 2>&1
    continue
  fi
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  status=0
  "$bin/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -artifact_prefix="fuzz/artifacts/$t/" \
    "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
  execs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || true)
  crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  printf '%-16s %12s %8s %s\n' "$t" "${execs:-?}" "$crashes" "$(find "fuzz/corpus/$t" -type f | wc -l)"
  if [ "$status" != 0 ] || [ "$crashes" != 0 ]; then
    failed=1
    tail -30 "$log"
  fi
done
exit $failed
