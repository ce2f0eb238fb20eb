#!/usr/bin/env bash
# compare-speed.sh [-r ROUNDS] [MODEL[=LLAMA_MODEL]]... : prefill and decode speed of llama.cpp
# (node-llama-cpp prebuilt; each install the anchors set-up made: avx512, avx2, best) and of
# edgerun, same threads, prompt 64 tokens, 32 generated after it, every engine run right after the other
# under quietrun.sh, ROUNDS times in turn (the machine is shared: only ratios within a round
# count). MODEL is what edgerun runs; LLAMA_MODEL (default: MODEL) is the GGUF llama.cpp runs
# beside it, for types llama.cpp lacks (e.g. a bitsandbytes NF4 directory against IQ4_NL).
# Prints one line per engine and round, the edgerun/llama.cpp ratios per round, and their
# minimum, median and maximum per model and install.
#
#   TINYLLAMA=1 ../shared/tools/anchors/setup-llamacpp.sh    # writes the TinyLlama-shaped model
#   tools/peers/compare-speed.sh                              # that model, 1 round
#   tools/peers/compare-speed.sh -r 3 q4_0.gguf iq4_nl.gguf nf4-dir=iq4_nl.gguf
#   NLC_PATHS=avx2 THREADS=2 EDGERUN=path/to/edgerun tools/peers/compare-speed.sh MODEL.gguf
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
anchors=${ANCHORS_DIR:-${TMPDIR:-/tmp}/anchors}
rounds=1
if [ "${1:-}" = "-r" ]; then rounds=$2; shift 2; fi
[ $# -gt 0 ] || set -- "$anchors/models/tinyllama-shape-q4_0.gguf"
threads=${THREADS:-2}
paths=${NLC_PATHS:-avx512 avx2 best} # which llama.cpp installs to run
quiet=${QUIETRUN:-$root/../shared/tools/anchors/quietrun.sh}
[ -x "$quiet" ] || { echo "compare-speed: $quiet not found (set QUIETRUN=path/to/quietrun.sh)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$anchors/llamacpp.env"

bin=${EDGERUN:-}
if [ -z "$bin" ]; then
  bin=$(mktemp -d)/edgerun
  (cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/edgerun)
fi

ratios=$(mktemp)
for ((round = 1; round <= rounds; round++)); do
  for spec in "$@"; do
    model=${spec%%=*}
    gguf=${spec#*=}
    declare -A pre=() dec=()
    for name in $paths; do
      case $name in
        avx512) dir=$NLC_DIR_AVX512 ;; avx2) dir=$NLC_DIR_AVX2 ;; best) dir=$NLC_DIR ;;
        *) echo "compare-speed: unknown llama.cpp install $name" >&2; exit 2 ;;
      esac
      out=$(cd "$dir" && "$quiet" node nlc-check.mjs "$gguf" "$threads" 64 32 2>&1)
      pre[$name]=$(grep 'prompt eval time' <<<"$out" | sed -E 's/.*, *([0-9.]+) tokens per second.*/\1/')
      dec[$name]=$(grep -E 'llama_perf_context_print: +eval time' <<<"$out" | sed -E 's/.*, *([0-9.]+) tokens per second.*/\1/')
      echo "round $round llama.cpp-$name $(basename "$gguf"): prefill ${pre[$name]} tok/s, decode ${dec[$name]} tok/s ($(grep -o 'foreign.*' <<<"$out" | tail -1))"
    done
    # edgerun bench: pp64 from an empty cache, and tg32 after 64 tokens in the cache (the
    # context llama.cpp's decode figure has: it generates after the prompt), each averaged
    # over 2 repetitions after a warm-up.
    out=$("$quiet" "$bin" bench -m "$model" -p 64 -n 32 -d 0,64 -t "$threads" -r 2 -o csv 2>&1)
    col() { awk -F, -v c="$1" -v t="$2" '/^build_commit,/ { for (i = 1; i <= NF; i++) h[$i] = i; next }
      ("test" in h) && $h["test"] == t { printf("%.2f\n", $h[c]); exit }' <<<"$out"; }
    ep=$(col avg_ts pp64) ed=$(col avg_ts "tg32 @ d64") roof=$(col roofline_fraction "tg32 @ d64")
    [ -n "$ep" ] && [ -n "$ed" ] || { echo "compare-speed: edgerun bench failed on $model:" >&2; echo "$out" >&2; exit 1; }
    echo "round $round edgerun $(basename "$model"): prefill $ep tok/s, decode $ed tok/s (decode at $roof of the read-bandwidth limit) ($(grep -o 'foreign.*' <<<"$out" | tail -1))"
    for name in $paths; do
      awk -v a="$ep" -v b="${pre[$name]}" -v c="$ed" -v d="${dec[$name]}" -v n="$name" -v m="$(basename "$model")" -v r="$round" \
        'BEGIN { printf("round %s ratio edgerun/llama.cpp-%s %s: prefill %.2fx, decode %.2fx\n", r, n, m, a/b, c/d) }' | tee -a "$ratios"
    done
  done
done
if [ "$rounds" -gt 1 ]; then
  echo "summary over $rounds rounds (min / median / max):"
  sed -E 's/^round [0-9]+ ratio //' "$ratios" | awk '
    { key = $1 " " $2; sub(":", "", key); p = $4; d = $6; sub("x,", "", p); sub("x", "", d)
      n[key]++; P[key, n[key]] = p; D[key, n[key]] = d; if (!(key in seen)) { seen[key] = 1; order[++k] = key } }
    function med(A, key, m,   i, j, t, v) { for (i = 1; i <= m; i++) v[i] = A[key, i] + 0
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return sprintf("%.2f / %.2f / %.2f", v[1], (m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2), v[m]) }
    END { for (i = 1; i <= k; i++) printf("  %s: prefill %s, decode %s\n", order[i], med(P, order[i], n[order[i]]), med(D, order[i], n[order[i]])) }'
fi
rm -f "$ratios"
