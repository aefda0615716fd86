#!/usr/bin/env bash
# bench/make_repo.sh DIR COMMITS FILES FILE_BYTES CHANGES_PER_COMMIT EXTRA_COMMITS
# A reproducible synthetic workspace repository (git fast-import; awk's seeded rand): FILES text files of about
# FILE_BYTES each, then COMMITS commits each rewriting CHANGES_PER_COMMIT of them with a fresh random block
# (incompressible enough that the pack grows like a busy workspace's). EXTRA_COMMITS more commits sit on
# refs/keep/next, not reachable from main, for the fetch measurement. The result is repacked (as after a gc)
# and checked out on main.
set -euo pipefail
dir=$1 commits=$2 files=$3 bytes=$4 changes=$5 extra=$6
rm -rf "$dir"
git init -q -b main "$dir"
awk -v commits="$commits" -v files="$files" -v bytes="$bytes" -v changes="$changes" -v extra="$extra" '
function block(n,   s, i) { s = ""; while (length(s) < n) { s = s sprintf("%08x %08x %08x %08x\n", rand() * 4294967295, rand() * 4294967295, rand() * 4294967295, rand() * 4294967295) } return s }
function blob(content) { printf "data %d\n%s\n", length(content), content }
function commit(ref, n, msg, first,   k, f) {
    printf "commit %s\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n", ref, n, 1700000000 + n
    blob(msg)
    if (n > 1 && first != "") printf "from %s\n", first
    if (n == 1) { for (f = 0; f < files; f++) { content[f] = block(bytes); printf "M 100644 inline dir%02d/file%04d.txt\n", f % 40, f; blob(content[f]) } }
    else { for (k = 0; k < changes; k++) { f = int(rand() * files); content[f] = substr(content[f], 1, bytes / 2) block(bytes / 2); printf "M 100644 inline dir%02d/file%04d.txt\n", f % 40, f; blob(content[f]) } }
    printf "\n"
}
BEGIN {
    srand(42)
    for (c = 1; c <= commits; c++) commit("refs/heads/main", c, "commit " c, ":" (c - 1))
    for (c = commits + 1; c <= commits + extra; c++) commit("refs/keep/next", c, "next " c, ":" (c - 1))
}' | git -C "$dir" fast-import --quiet
git -C "$dir" repack -adq
git -C "$dir" checkout -qf main
