#!/usr/bin/env bash
# The run command: builds Lifeline and walks through a whole installation on
# this machine: a relay, an admin, an enrolled agent, the console.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --release --bins --locked
B="${CARGO_TARGET_DIR:-$PWD/target}/release"

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

step "agent display: a private Xvfb with an xterm (so the viewer never films itself)"
AGENT_DISPLAY=""
for n in $(seq 70 99); do
  [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { AGENT_DISPLAY=":$n"; break; }
done
Xvfb "$AGENT_DISPLAY" -screen 0 1280x800x24 -nolisten tcp -noreset >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${AGENT_DISPLAY#:}" ] && break; sleep 0.1; done
DISPLAY="$AGENT_DISPLAY" xsetroot -solid '#2e5e8c'
DISPLAY="$AGENT_DISPLAY" xterm -geometry 100x30+60+60 -e sh -c 'echo "This is the user machine seen through Lifeline."; echo; uname -a; echo; ls -l /; exec sh' &
PIDS+=($!)
# A tray host, so the agent's tray icon shows on the user's screen.
if command -v trayer >/dev/null; then
  DISPLAY="$AGENT_DISPLAY" trayer --edge top --align right --widthtype request --height 24 \
    --SetDockType true --transparent false --tint 0x303030 >/dev/null 2>&1 &
  PIDS+=($!)
fi
echo "agent display $AGENT_DISPLAY"

step "agent: enroll this machine and run (unattended, like a kiosk, for the demo)"
LIFELINE_ENROLL_TOKEN="$TOKEN" "$B/lifeline-agent" enroll --relay "$RELAY" --fingerprint "$FP" --force
DISPLAY="$AGENT_DISPLAY" "$B/lifeline-agent" run --unattended >"$DEMO/agent.log" 2>&1 &
PIDS+=($!)
sleep 1

step "lifeline machines"
"$B/lifeline" machines

step "lifeline ping $(hostname) --count 200"
"$B/lifeline" ping "$("$B/lifeline-agent" id)" --count 200

MACHINE="$("$B/lifeline-agent" id)"
step "the user asks for help (the tray's Request help... does the same)"
"$B/lifeline-agent" request-help --text "Demo: the printer does not print" --urgency high
"$B/lifeline" tickets
step "lifeline type $MACHINE … --enter (keyboard through the relay)"
"$B/lifeline" click "$MACHINE" 400 300
"$B/lifeline" type "$MACHINE" "echo typed by the technician through the relay" --enter

if [ -n "${DISPLAY:-}" ] && [ -z "${CI:-}" ] && command -v xdpyinfo >/dev/null && xdpyinfo >/dev/null 2>&1; then
  step "lifeline connect $MACHINE (viewer window; close it to finish)"
  echo "other shells can use: export LIFELINE_CONFIG_DIR=$LIFELINE_CONFIG_DIR"
  "$B/lifeline" connect "$MACHINE"
else
  step "no display for a window here: headless viewer for 5 s"
  "$B/lifeline" connect "$MACHINE" --headless --duration 5s --record "$DEMO/record"
  echo "last frame: $DEMO/record/last.png, figures: $DEMO/record/stats.json"
fi

step "lifeline sessions (every session's log; lifeline session show ID for one)"
sleep 3   # the last session's log is written once the agent's report is in
"$B/lifeline" sessions --machine "$MACHINE"
