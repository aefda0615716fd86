#!/bin/sh
# A stand-in engine for the integration tests. It prints a few lines at start, then obeys files dropped into
# its control directory (first argument):
#   say       its content is printed as is (may hold JSON lines, or no final newline)
#   flood     holds N: prints N numbered lines as fast as it can
#   crash     exits with code 3
#   hang-term ignore SIGTERM from now on
ctl=${1:?control directory}
echo "engine up: agent $AGENT_ID pid $$ cwd $(pwd)"
echo '{"level":"warn","msg":"a JSON warning"}'
while :; do
    # Each file is taken (renamed) before it is acted on, so a new one dropped meanwhile is not lost.
    if mv "$ctl/say" "$ctl/.said" 2>/dev/null; then
        cat "$ctl/.said"
    fi
    if mv "$ctl/flood" "$ctl/.flooded" 2>/dev/null; then
        n=$(cat "$ctl/.flooded")
        seq 1 "$n" | sed 's/^/flood line /'
        echo "flood done"
    fi
    if mv "$ctl/crash" "$ctl/.crashed" 2>/dev/null; then
        echo "crashing on purpose"
        exit 3
    fi
    if mv "$ctl/hang-term" "$ctl/.hung" 2>/dev/null; then
        trap '' TERM
        echo "ignoring SIGTERM"
    fi
    sleep 0.02
done
