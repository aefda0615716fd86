#!/usr/bin/env bash
# ctest `metrics_prometheus` (docs/api.md §16): Debian's Prometheus scrapes a daemon on loopback, both
# /metrics (no token, loopback) and …/metrics (with the token as its bearer credentials); the test moves
# counters and asks Prometheus's HTTP API for them. promtool checks the exposition. TAP-style output.
#   prometheus.sh AGENT_GATEWAY_BINARY
set -uo pipefail
binary=$(realpath "${1:?agent-gateway binary}")
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
n=0
failed=0
. "$(dirname "$0")/../support/tap.sh" # check, wait_for

token=metrics-token-0123456789
mkdir -p "$work/root"
"$binary" --root "$work/root" --token "$token" --agent-id box --listen 127.0.0.1:0 --snapshot-interval 0 \
    >"$work/out" 2>"$work/log" &
pids+=($!)
wait_for 20 grep -q "listening on" "$work/log"
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
[ -n "$port" ] || { echo "not ok - the daemon did not start"; cat "$work/log"; exit 1; }
base="http://127.0.0.1:$port"

curl -sf --max-time 10 "$base/metrics" >"$work/exposition.txt"
check "promtool check metrics passes on the exposition" promtool check metrics <"$work/exposition.txt"

# Prometheus on a port the kernel just handed out (and took back).
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: loopback
    static_configs: [{targets: ["127.0.0.1:$port"]}]
  - job_name: token
    metrics_path: /v0/agents/box/metrics
    authorization: {credentials: "$token"}
    static_configs: [{targets: ["127.0.0.1:$port"]}]
YAML
check "promtool check config passes on the scrape configuration" \
    sh -c "promtool check config '$work/prometheus.yml' >/dev/null"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
query() { # PROMQL → the first result's value, or nothing
    curl -sf --max-time 5 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
is() { [ "$(query "$1")" = "$2" ]; }

check "Prometheus scrapes /metrics without a token" wait_for 60 is 'up{job="loopback"}' 1
check "Prometheus scrapes …/metrics with the token" wait_for 60 is 'up{job="token"}' 1

for i in 1 2 3 4 5; do
    curl -sf --max-time 10 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d "{\"command\":\"echo $i\"}" "$base/v0/agents/box/console/exec" >/dev/null
done
curl -s --max-time 10 -o /dev/null "$base/v0/agents/box/files?path=missing"
check "the 5 execs arrive in Prometheus" \
    wait_for 30 is 'agent_gateway_exec_duration_seconds_count{job="loopback"}' 5
check "their route's 2xx counter too, by route template" wait_for 30 is \
    'agent_gateway_http_requests_total{job="token",route="/v0/agents/{agentId}/console/exec",code="2xx"}' 5
check "the file read without a token counts as 4xx of the unmatched requests" wait_for 30 is \
    'agent_gateway_http_requests_total{job="loopback",route="unmatched",code="4xx"}' 1
check "histogram_quantile works on the request latency" \
    wait_for 30 sh -c "[ -n \"\$(curl -sf --max-time 5 'http://127.0.0.1:$prom_port/api/v1/query' --data-urlencode 'query=histogram_quantile(0.5, agent_gateway_http_request_duration_seconds_bucket{job=\"loopback\",route=\"/v0/agents/{agentId}/console/exec\"})' | grep -o '\"value\"')\" ]"

if [ $failed -gt 0 ]; then
    echo "# daemon log:"; tail -20 "$work/log"
    echo "# prometheus log:"; tail -20 "$work/prometheus.log"
    exit 1
fi
echo "1..$n"
