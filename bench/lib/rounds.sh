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

round_record() {  # ROUND PEER_LINE TOLLGATE_LINE
  local ratio
  ratio=$(awk -v a="$(field rps "$3")" -v b="$(field rps "$2")" 'BEGIN{printf "%.2f", a/b}')
  ROUND_RATIOS+=("$ratio")
  ROUND_P99S+=("$(field p99_ms "$3")")
  echo "round $1  peer      $2"
  echo "round $1  tollgate  $3  ratio $ratio"
}
