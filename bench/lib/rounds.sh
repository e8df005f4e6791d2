# Rounds of a side-by-side benchmark. Source this file, then per round:
#
#   round_record ROUND "$peer_line" "$tollgate_line"   # prints both and their ratio
#   median "${ROUND_RATIOS[@]}"                         # after the last round
#
# A line is what the wrk scripts print: "RESULT rps=... p50_ms=... p99_ms=... errors=...".

ROUND_RATIOS=()
ROUND_P99S=()

# field NAME LINE: the value of NAME= in LINE.
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

# median VALUES...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

round_record() {  # ROUND PEER_LINE TOLLGATE_LINE [NOTE]
  local ratio
  ratio=$(awk -v a="$(field rps "$3")" -v b="$(field rps "$2")" 'BEGIN{printf "%.2f", a/b}')
  ROUND_RATIOS+=("$ratio")
  ROUND_P99S+=("$(field p99_ms "$3")")
  echo "round $1  peer      $2"
  echo "round $1  tollgate  $3  ratio $ratio${4:+  $4}"
}

# On a virtual machine the hypervisor may run other guests on our CPUs ("steal" in
# /proc/stat); latency tails measured meanwhile are partly its. cpu_sample prints the
# counters; steal_since SAMPLE prints "steal N%" of the CPU time since SAMPLE.
cpu_sample() { awk '/^cpu / {print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
steal_since() {
  local now
  now=$(cpu_sample)
  awk -v a="$1" -v b="$now" 'BEGIN {split(a, x, " "); split(b, y, " ");
    t = y[2] - x[2]; printf "steal %.0f%%", (t > 0 ? 100 * (y[1] - x[1]) / t : 0)}'
}
