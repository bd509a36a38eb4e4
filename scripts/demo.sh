#!/usr/bin/env bash
# The run command: builds Lifeline and walks through a whole installation on
# this machine: a relay, an admin, an enrolled agent, the console.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --release --bins --locked
B="$PWD/target/release"

DEMO="${LIFELINE_DEMO_DIR:-$(mktemp -d -t lifeline-demo.XXXXXX)}"
PORT="${LIFELINE_DEMO_PORT:-7070}"
RELAY="127.0.0.1:$PORT"
export LIFELINE_CONFIG_DIR="$DEMO/console" LIFELINE_AGENT_DIR="$DEMO/agent"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "relay: init, first admin, serve on $RELAY (data in $DEMO/relay)"
FP=$("$B/lifeline-relay" init --data-dir "$DEMO/relay" | sed 's/^fingerprint: //')
echo "fingerprint: $FP"
LIFELINE_PASSWORD=demo-admin-pw "$B/lifeline-relay" user add --data-dir "$DEMO/relay" admin --role admin 2>/dev/null || true
"$B/lifeline-relay" serve --data-dir "$DEMO/relay" --listen "$RELAY" >"$DEMO/relay.out" 2>"$DEMO/relay.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$DEMO/relay.out" 2>/dev/null && break; sleep 0.1; done

step "console: log in as admin, create an enrollment token"
LIFELINE_PASSWORD=demo-admin-pw "$B/lifeline" login --relay "$RELAY" --fingerprint "$FP" --user admin
TOKEN=$("$B/lifeline" enroll-token create --group demo --ttl 1h)
echo "token: ${TOKEN:0:12}…"

step "agent: enroll this machine and run"
"$B/lifeline-agent" enroll --relay "$RELAY" --fingerprint "$FP" --token "$TOKEN" --force
"$B/lifeline-agent" run >"$DEMO/agent.log" 2>&1 &
PIDS+=($!)
sleep 1

step "lifeline machines"
"$B/lifeline" machines

step "lifeline ping $(hostname) --count 200"
"$B/lifeline" ping "$("$B/lifeline-agent" id)" --count 200

if [ -t 0 ] && [ -z "${CI:-}" ]; then
  step "running; try it yourself in another shell:"
  echo "  export LIFELINE_CONFIG_DIR=$LIFELINE_CONFIG_DIR"
  echo "  $B/lifeline machines"
  echo "Ctrl-C stops the relay and the agent."
  wait
fi
