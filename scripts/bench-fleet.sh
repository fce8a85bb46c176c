#!/usr/bin/env bash
# The fleet simulator (bench/bench-fleet.c): writes docs/bench-fleet.{csv,txt}
# and, when gnuplot is installed, docs/bench-fleet.png (CPU vs nodes, p99 vs nodes).
#   scripts/bench-fleet.sh [bench-fleet options]   (default: --nodes 1000,2000,5000,10000 --seconds 60)
#   PLOT_ONLY=1 scripts/bench-fleet.sh             (redraw the PNG from docs/bench-fleet.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PLOT_ONLY:-}" ]; then
        args=("$@")
        [ ${#args[@]} -gt 0 ] || args=(--nodes 1000,2000,5000,10000 --seconds 60)
        cmake --build build -j2 --target bench-fleet confpoold confpool-attestd >/dev/null
        ./build/bench/bench-fleet -o docs/bench-fleet.csv "${args[@]}" 2>build/bench-fleet.stderr | tee docs/bench-fleet.txt
fi
if ! command -v gnuplot >/dev/null 2>&1; then
        echo "note: gnuplot not installed (apt-get install gnuplot-nox): docs/bench-fleet.png not drawn"
        exit 0
fi
gnuplot <<'GP'
set datafile separator ","
set terminal pngcairo size 1000,900 noenhanced font ",11"
set output "docs/bench-fleet.png"
set multiplot layout 2,1
set title "confpool fleet simulator: daemons' CPU vs nodes (10 s heartbeats, hourly re-attestation, 2 cores)"
set xlabel "simulated nodes"
set ylabel "% of the machine (2 cores)"
set grid
set key top left
set yrange [0:60]
set xrange [0:*]
plot "docs/bench-fleet.csv" skip 1 using 1:($11/2) with linespoints lw 2 pt 7 title "confpool-attestd", \
     "" skip 1 using 1:($12/2) with linespoints lw 2 pt 5 title "confpoold", \
     "" skip 1 using 1:13 with linespoints lw 2 pt 9 title "both", \
     50 with lines dt 2 lw 2 title "target: 50%"
set title "latency p99 vs nodes"
set yrange [0:*]
set offsets graph 0, graph 0, graph 0.12, graph 0
set ylabel "ms"
plot "docs/bench-fleet.csv" skip 1 using 1:5 with linespoints lw 2 pt 7 title "heartbeat p99 (client: send -> answer)", \
     "" skip 1 using 1:20 with linespoints lw 2 pt 4 title "heartbeat p99 in confpoold (Server-Timing)", \
     "" skip 1 using 1:23 with linespoints lw 2 pt 6 title "simulator's send lag p99 (sent - scheduled)", \
     "" skip 1 using 1:9 with linespoints lw 2 pt 5 title "attestation p99 (challenge + attest)", \
     50 with lines dt 2 lw 2 title "target: heartbeat p99 50 ms"
unset multiplot
GP
echo "wrote docs/bench-fleet.png"
