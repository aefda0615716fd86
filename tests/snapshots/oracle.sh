#!/usr/bin/env bash
# Snapshot CIDs against an independent implementation (docs/api.md §12): trees are committed into the daemon's
# workspace, POST …/snapshots/sync computes the CID, and ipfs-unixfs-importer (npm; Kubo's
# `ipfs add -r --hidden` rules: v0 with its unixfs-v0-2015 profile, v1 with its defaults) computes it for a
# checkout of the same commit. The CAR export is read back with @ipld/car and every block's hash checked.
#   oracle.sh BINARY
set -uo pipefail
binary=${1:?BINARY}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
export HOME=${HOME:-$work} GIT_CONFIG_NOSYSTEM=1
token=oracle-token-0123456789
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "${KEEP_WORK:-}" ] && echo "# kept $work" || rm -rf "$work"
}
trap cleanup EXIT

"$here/prepare-node" || exit 1

start_daemon() { # NAME CID_VERSION → sets PORT
    mkdir -p "$work/$1/workspace"
    "$binary" --root "$work/$1" --token "$token" --listen 127.0.0.1:0 --cid-version "$2" \
        --snapshot-interval 0 >"$work/$1.out" 2>"$work/$1.log" &
    pids+=($!)
    for _ in $(seq 200); do grep -q "listening on" "$work/$1.log" 2>/dev/null && break; sleep 0.05; done
    PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/$1.log" | head -1)
}
api() { # PORT METHOD PATH
    curl -s -X "$2" -H "Authorization: Bearer $token" "http://127.0.0.1:$1/v0/agents/local$3"
}
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(v===null?"null":v)})' "$1"; }

failed=0
n=0
check() { # NAME CMD...
    n=$((n + 1))
    if "${@:2}" >"$work/check.log" 2>&1; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        sed 's/^/#   /' "$work/check.log" | tail -20
        failed=$((failed + 1))
    fi
}

pattern() { # FILE BYTES: byte[i] = i % 251
    node -e 'const n=+process.argv[2];const b=Buffer.alloc(n);for(let i=0;i<n;i++)b[i]=i%251;require("fs").writeFileSync(process.argv[1],b)' "$1" "$2"
}

# The trees: every shape the importer rules distinguish.
make_tree() { # DIR SEED
    local d=$1 seed=$2
    mkdir -p "$d"
    : >"$d/empty.txt"
    pattern "$d/exact256k.bin" 262144
    pattern "$d/exact256k_plus1.bin" 262145
    pattern "$d/chunks175.bin" $((174 * 262144 + 1))
    printf 'secret\n' >"$d/.env"
    mkdir -p "$d/.config/tool" && printf '{"a":1}\n' >"$d/.config/tool/settings.json"
    local deep=$d
    for i in $(seq 20); do deep=$deep/level$i; done
    mkdir -p "$deep" && printf 'bottom\n' >"$deep/file.txt"
    mkdir -p "$d/名前/émoji-😀" && printf 'unicode\n' >"$d/名前/émoji-😀/ファイル.txt"
    printf 'upper\n' >"$d/B.txt" && printf 'lower\n' >"$d/a.txt"
    mkdir -p "$d/many"
    for i in $(seq 5000); do printf '%s\n' "$i" >"$d/many/entry-with-a-long-enough-name-$i.txt"; done
    node -e '
        let x = +process.argv[2];
        const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
        const fs = require("fs");
        for (let i = 0; i < 40; i++) {
            const dir = process.argv[1] + "/random/d" + Math.floor(rnd() * 6);
            fs.mkdirSync(dir, { recursive: true });
            const n = Math.floor(rnd() * rnd() * 700000);
            const b = Buffer.alloc(n);
            for (let j = 0; j < n; j++) b[j] = Math.floor(rnd() * 256);
            fs.writeFileSync(dir + "/f" + i + ".bin", b);
        }' "$d" "$seed"
}

for version in 0 1; do
    start_daemon "v$version" "$version"
    port=$PORT
    ws=$work/v$version/workspace
    make_tree "$ws" $((7 + version))
    res=$(api "$port" POST /snapshots/sync)
    cid=$(echo "$res" | json_field snapshotCid)
    commit=$(echo "$res" | json_field commitSha)
    rm -rf "$work/checkout-v$version"
    git clone -q "$ws" "$work/checkout-v$version"
    git -C "$work/checkout-v$version" checkout -q "$commit"
    expected=$(node "$here/oracle.mjs" "$work/checkout-v$version" "$version")
    check "v$version: the snapshot CID is the importer's ($expected)" test "$cid" = "$expected"
    api "$port" GET "/snapshots/$cid/car" >"$work/v$version.car"
    check "v$version: the CAR has that one root and every block matches its CID" \
        bash -c "node '$here/carcheck.mjs' '$work/v$version.car' | grep -q '^$cid '"

    # One edited file: the new CID is again the importer's, and only that file was read.
    printf 'edited\n' >>"$ws/random/d1/$(ls "$ws/random/d1" | head -1)"
    res=$(api "$port" POST /snapshots/sync)
    cid2=$(echo "$res" | json_field snapshotCid)
    commit2=$(echo "$res" | json_field commitSha)
    git -C "$work/checkout-v$version" fetch -q origin && git -C "$work/checkout-v$version" checkout -q "$commit2"
    expected2=$(node "$here/oracle.mjs" "$work/checkout-v$version" "$version")
    check "v$version: after one edit the CID is the importer's again" test "$cid2" = "$expected2"
    check "v$version: the incremental snapshot read one file" grep -q "snapshot $cid2 .*: 1 files read" "$work/v$version.log"
done

echo "1..$n"
if [ "$failed" -gt 0 ]; then
    echo "# $failed of $n snapshot oracle checks failed"
    exit 1
fi
echo "# all $n snapshot oracle checks passed"
