#!/usr/bin/env bash
# compare-speed.sh [MODEL] : prefill/decode speed of llama.cpp (node-llama-cpp prebuilt, each
# install the anchors set-up made: AVX-512, AVX2, best) and of edgerun on the same GGUF, same
# threads, prompt 64 tokens, 32 generated, run one right after the other under quietrun.sh so
# the figures are comparable. Prints one line per engine and the edgerun/llama.cpp ratios.
#
#   TINYLLAMA=1 ../shared/tools/anchors/setup-llamacpp.sh    # writes the TinyLlama-shaped model
#   tools/peers/compare-speed.sh                              # default model below
#   NLC_PATHS=avx512 THREADS=2 tools/peers/compare-speed.sh MODEL.gguf
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
anchors=${ANCHORS_DIR:-${TMPDIR:-/tmp}/anchors}
model=${1:-$anchors/models/tinyllama-shape-q4_0.gguf}
threads=${THREADS:-2}
paths=${NLC_PATHS:-avx512 avx2 best}   # which llama.cpp installs to run
quiet=${QUIETRUN:-$root/../shared/tools/anchors/quietrun.sh}
[ -x "$quiet" ] || { echo "compare-speed: $quiet not found (set QUIETRUN=path/to/quietrun.sh)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$anchors/llamacpp.env"

bin=$(mktemp -d)/edgerun
(cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/edgerun)
# 64 prompt tokens (BOS included) on the TinyLlama vocabulary, like nlc-check.
prompt="the quick brown fox jumps over the lazy dog the quick brown fox jumps over the lazy dog the quick brown fox jumps over the lazy dog the quick brown fox jumps over the lazy dog the quick brown fox the"

declare -A pre dec
for name in $paths; do
  case $name in
    avx512) dir=$NLC_DIR_AVX512 ;; avx2) dir=$NLC_DIR_AVX2 ;; best) dir=$NLC_DIR ;;
  esac
  out=$(cd "$dir" && "$quiet" node nlc-check.mjs "$model" "$threads" 64 32 2>&1)
  p=$(grep 'prompt eval time' <<<"$out" | sed -E 's/.*, *([0-9.]+) tokens per second.*/\1/')
  d=$(grep -E '[^t] eval time|llama_perf_context_print: +eval time' <<<"$out" | grep -v prompt | sed -E 's/.*, *([0-9.]+) tokens per second.*/\1/')
  pre[$name]=$p; dec[$name]=$d
  echo "llama.cpp $name: prefill $p tok/s, decode $d tok/s  ($(grep -o 'foreign.*' <<<"$out" | tail -1))"
done

out=$("$quiet" "$bin" run -m "$model" -p "$prompt" -n 32 --temp 0 -t "$threads" --json 2>&1)
ep=$(grep -o '"prefill_tokens_per_s":[0-9.e+-]*' <<<"$out" | cut -d: -f2)
ed=$(grep -o '"decode_tokens_per_s":[0-9.e+-]*' <<<"$out" | cut -d: -f2)
np=$(grep -o '"prompt_tokens":\[[^]]*\]' <<<"$out" | tr -cd ',' | wc -c)
echo "edgerun: prefill $ep tok/s ($((np + 1)) prompt tokens), decode $ed tok/s  ($(grep -o 'foreign.*' <<<"$out" | tail -1))"
for name in $paths; do
  awk -v a="$ep" -v b="${pre[$name]}" -v c="$ed" -v d="${dec[$name]}" -v n="$name" \
    'BEGIN{printf("ratio edgerun/llama.cpp %s: prefill %.2fx, decode %.2fx\n", n, a/b, c/d)}'
done
