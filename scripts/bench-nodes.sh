#!/usr/bin/env bash
# Time to Ready of node pools on the embedded stack (bench/bench-nodes.c):
# writes docs/bench-nodes.csv and, when gnuplot is installed, docs/bench-nodes.png.
#   scripts/bench-nodes.sh [SIZE...]          (default: 1 10 100 1000; 1,000 takes ~10 min)
#   BENCH_NODES_OPTS="-p 1000"                 (bench-nodes options; default: 1,000 pre-provisioned
#                                               vTPMs, made before each pool is requested; "" for none)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 10 100 1000)
cmake --build build -j2 --target bench-nodes >/dev/null
log=docs/bench-nodes.txt
read -r -a opts <<<"${BENCH_NODES_OPTS--p 1000}"
./build/bench/bench-nodes "${opts[@]}" -o docs/bench-nodes.csv "${sizes[@]}" 2> >(grep -v ": audit: " > build/bench-nodes.stderr) | tee "$log"
if ! command -v gnuplot >/dev/null 2>&1; then
        echo "note: gnuplot not installed (apt-get install gnuplot-nox): docs/bench-nodes.png not drawn"
        exit 0
fi
gnuplot <<'GP'
set datafile separator ","
set terminal pngcairo size 1000,1000 noenhanced font ",11"
set output "docs/bench-nodes.png"
set multiplot layout 2,1
set title "confpool: node pool time to Ready (embedded stack, real path for every node, 2 cores)"
set xlabel "nodes in the pool"
set ylabel "seconds"
set logscale xy
set grid
set key top left
set format x "%g"
plot "docs/bench-nodes.csv" skip 1 using 1:2 with linespoints lw 2 pt 7 title "pool PUT -> Succeeded (all nodes Ready)", \
     "" skip 1 using 1:($4/1000) with linespoints lw 2 pt 5 title "mean node create -> agent Ready", \
     "" skip 1 using 1:($1*$6/1000) with lines dt 2 lw 2 title "N x sum of the join's crypto primitives"
unset logscale
unset xlabel
set title "where a node's create -> Ready goes, per pool size (share of the mean, %)"
set ylabel "% of mean node create -> Ready"
set yrange [0:100]
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set key outside right top
set grid ytics
colors = "#9400d3 #009e73 #56b4e9 #e69f00 #f0e442 #0072b2 #e51e10 #000000 #cc79a7 #8b4513 #00ced1 #808080"
plot for [c=10:21] "docs/bench-nodes.csv" using (100*column(c)/column(4)):xtic(1) title columnheader(c) \
     lc rgb word(colors, c - 9)
unset multiplot
GP
echo "wrote docs/bench-nodes.png"
