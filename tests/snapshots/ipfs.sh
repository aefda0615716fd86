#!/usr/bin/env bash
# Pinning to a real IPFS node (docs/api.md §12, --ipfs-api): js-ipfs 0.66 from npm, offline, bound to loopback.
# A snapshot is pinned before POST …/snapshots/sync answers; with the node down the answer is 503, the snapshot
# is kept and listed as pending, and it is pinned once the node is back.
#   ipfs.sh BINARY
set -uo pipefail
binary=${1:?BINARY}
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$here/ipfs-node
work=$(mktemp -d)
token=ipfs-token-0123456789
pids=()
node_pid=""
cleanup() {
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "${KEEP_WORK:-}" ] && echo "# kept $work" || rm -rf "$work"
}
trap cleanup EXIT

"$here/prepare-node" || exit 1
export IPFS_PATH=$work/ipfs
jsipfs() { node --import "$node_dir/polyfill.mjs" "$node_dir/node_modules/ipfs/src/cli.js" "$@"; }
api_port=$((20000 + RANDOM % 20000))
jsipfs init --empty-repo >"$work/init.log" 2>&1 || { echo "not ok - ipfs init"; cat "$work/init.log"; exit 1; }
jsipfs config --json Addresses.Swarm '[]' >/dev/null
jsipfs config --json Bootstrap '[]' >/dev/null
jsipfs config --json Addresses.Delegates '[]' >/dev/null
jsipfs config --json Discovery.MDNS.Enabled false >/dev/null
jsipfs config Addresses.API "/ip4/127.0.0.1/tcp/$api_port" >/dev/null
jsipfs config Addresses.Gateway "/ip4/127.0.0.1/tcp/$((api_port + 1))" >/dev/null
jsipfs config --json Addresses.RPC "\"/ip4/127.0.0.1/tcp/$((api_port + 2))\"" >/dev/null
start_node() {
    node --import "$node_dir/polyfill.mjs" "$node_dir/node_modules/ipfs/src/cli.js" daemon --offline \
        >"$work/node.log" 2>&1 &
    node_pid=$!
    for _ in $(seq 120); do grep -q "Daemon is ready" "$work/node.log" && return 0; sleep 0.5; done
    echo "not ok - the IPFS node did not start"
    cat "$work/node.log"
    exit 1
}
stop_node() {
    kill "$node_pid"
    wait "$node_pid" 2>/dev/null
    node_pid=""
}
ipfs_api() { curl -s -X POST "http://127.0.0.1:$api_port/api/v0/$1"; }

mkdir -p "$work/root/workspace/dir/sub"
printf 'hello\n' >"$work/root/workspace/a.txt"
printf 'secret\n' >"$work/root/workspace/.hidden"
head -c 700000 /dev/urandom >"$work/root/workspace/dir/big.bin"
printf 'deep\n' >"$work/root/workspace/dir/sub/deep.txt"
ln -s ../a.txt "$work/root/workspace/dir/link"
"$binary" --root "$work/root" --token "$token" --listen 127.0.0.1:0 --snapshot-interval 0 \
    --ipfs-api "http://127.0.0.1:$api_port" >"$work/gw.out" 2>"$work/gw.log" &
pids+=($!)
for _ in $(seq 200); do grep -q "listening on" "$work/gw.log" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/gw.log" | head -1)
api() { curl -s -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v0/agents/local$2"; }
# The value at a dotted path of the JSON on stdin ("pinning.pending", "snapshots.0.snapshotCid").
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let x=JSON.parse(s);for(const k of process.argv[1].split("."))x=x[k];console.log(x)})' "$1"; }
get() { curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v0/agents/local$1"; }
pending() { get /snapshots/sync | field pinning.pending; }
pinned_on_node() { ipfs_api "pin/ls?arg=$1&type=recursive" | grep -q "$1"; }

failed=0
n=0
check() {
    n=$((n + 1))
    if "${@:2}" >"$work/check.log" 2>&1; then echo "ok $n - $1"; else
        echo "not ok $n - $1"
        sed 's/^/#   /' "$work/check.log" | tail -20
        failed=$((failed + 1))
    fi
}

start_node
out=$(api POST /snapshots/sync)
code=${out##*$'\n'}
cid1=$(echo "${out%$'\n'*}" | field snapshotCid)
check "sync with the node up answers 200" test "$code" = 200
check "the snapshot is pinned recursively on the node" pinned_on_node "$cid1"
check "nothing is pending" test "$(pending)" = 0

stop_node
printf 'changed while the node is down\n' >>"$work/root/workspace/a.txt"
out=$(api POST /snapshots/sync)
code=${out##*$'\n'}
check "sync with the node down answers 503" test "$code" = 503
check "the snapshot is kept locally" test "$(get /snapshots | field snapshots.length)" = 2
p=$(pending)
check "pending is 1 while the node is down (got $p)" test "$p" = 1
cid2=$(get /snapshots | field snapshots.0.snapshotCid)

start_node
for _ in $(seq 180); do [ "$(pending)" = 0 ] && break; sleep 0.5; done
check "once the node is back the pending snapshot is pinned by the retry" test "$(pending)" = 0
check "… and the node has it" pinned_on_node "$cid2"

# A fresh daemon with nothing of it (no blocks, no git objects) restores the pinned snapshot by its CID.
mkdir -p "$work/fresh/workspace"
printf 'unrelated\n' >"$work/fresh/workspace/other.txt"
"$binary" --root "$work/fresh" --token "$token" --listen 127.0.0.1:0 --snapshot-interval 0 \
    --ipfs-api "http://127.0.0.1:$api_port" >"$work/fresh.out" 2>"$work/fresh.log" &
pids+=($!)
for _ in $(seq 200); do grep -q "listening on" "$work/fresh.log" 2>/dev/null && break; sleep 0.05; done
fport=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/fresh.log" | head -1)
code=$(curl -s -o "$work/reset.json" -w '%{http_code}' -H "Authorization: Bearer $token" -d "{\"snapshotCid\":\"$cid2\"}" \
    "http://127.0.0.1:$fport/v0/agents/local/snapshots/reset")
check "a fresh daemon resets to a CID it never saw (fetched from the node): 200 (got $code)" test "$code" = 200
check "… and has the identical tree (files, hidden file, symlink, multi-chunk file)" \
    diff -r --no-dereference -x .git "$work/root/workspace" "$work/fresh/workspace"
check "… and records it under the same CID" test "$(curl -s -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$fport/v0/agents/local/snapshots" | field snapshots.0.snapshotCid)" = "$cid2"

echo "1..$n"
if [ "$failed" -gt 0 ]; then
    echo "# $failed of $n pinning checks failed"
    tail -20 "$work/gw.log" | sed 's/^/#   /'
    exit 1
fi
echo "# all $n pinning checks passed"
