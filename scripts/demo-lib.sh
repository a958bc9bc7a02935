# Sourced by the scripts that test a running demo. start_demo BIN DB LOG
# [demo options…] starts `BIN demo` on the SQLite file DB and a free port,
# logging to LOG, and waits until it serves and has printed its logins; it
# sets $port and $demo (the pid). The caller kills $demo when done.
start_demo() {
  local bin=$1 db=$2 log=$3
  shift 3
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" --database-url "sqlite://$db" demo --bind "127.0.0.1:$port" "$@" >"$log" 2>&1 &
  demo=$!
  for _ in $(seq 1 180); do
    if grep -q "demo login: viewer" "$log" && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then return 0; fi
    if ! kill -0 "$demo" 2>/dev/null; then cat "$log"; echo "the demo stopped" >&2; return 1; fi
    sleep 1
  done
  echo "the demo did not come up in 180 s" >&2
  return 1
}
