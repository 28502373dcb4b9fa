#!/usr/bin/env bash
# Issue 16's powered comparison (configs/suites/compare-full.yaml), carried across sessions.
#
# All ten rows take longer on 2 CPU cores than one working session, and runs/ does not outlive
# the machine. So each finished row's record (OUT/rows/NAME.json.gz: every sample, verdict and
# input) is kept in benchmarks/results/SUITE/, and a later call reuses it instead of evaluating
# the row again (harc compare --from-results, which checks the record's suite, model, training
# data, config and judges against this run's). For the training-data check to hold on another
# machine, where bf16 generation can break near-ties differently, the comparison's generated
# inputs are kept beside the records and put into the harc cache first: the self-supplied
# training answers (the embedded model's supply cache) and the PAP attacker's paraphrases (its
# generation-cache folder), so every row, in every session, is attacked with the same prompts.
#
# The records were made in bfloat16 (what --dtype auto picks on CPUs with native bf16), and a
# record is reused only by a run of the same dtype, so the dtype is pinned here (DTYPE). On a
# CPU without native bf16 (AVX2 only) harc computes the bf16 matmuls in float32
# (harc.models.cpu_bf16; PyTorch's own bf16 path there made a HARC step take over 6 min):
# the rows then run at float32 speed, about 4x slower than on an AVX512-BF16 CPU, and
# benchmarks/cpu_bf16.py measures how close their answers are to the recorded ones.
#
# Each missing row is evaluated by its own `harc compare` call (base and the recorded rows
# reused), and its record is kept as soon as it is written: a session that ends mid-way loses
# only the row it was on. The last call reuses every record of the suite (the rows named and
# those recorded before) and renders the table.
#
#   bash benchmarks/compare_full.sh base,cast,actadd        # the rows named, reusing records
#   bash benchmarks/compare_full.sh                         # all ten: the full table
#   SUITE=compare-full-pair bash benchmarks/compare_full.sh base,harc
#   bash benchmarks/compare_full.sh circuit_breakers@paper      # a method at its own preset
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=${SUITE:-compare-full}
ALL=base,harc,cast,sft,dpo,circuit_breakers,repbend,harc_dpo,actadd,harc_guard
METHODS=${1:-$ALL}
DTYPE=${DTYPE:-bfloat16}
RESULTS=benchmarks/results/$SUITE
SEED=benchmarks/results/compare-full/seed
OUT=runs/$SUITE
RUN=runs/budget/full-a   # the validated HARC run of configs/train/cpu-full.yaml
CACHE=${HARC_CACHE:-$HOME/.cache/harc}

mkdir -p "$CACHE/supply" "$CACHE/generations" "$RESULTS"
for file in "$SEED"/supply-*.jsonl.gz; do
  [ -e "$file" ] || continue
  target="$CACHE/supply/$(basename "$file" .jsonl.gz | sed 's/^supply-//').jsonl"
  [ -s "$target" ] || gunzip -c "$file" > "$target"
done
for file in "$SEED"/generations-*.tar.gz; do
  [ -e "$file" ] && tar -xzf "$file" -C "$CACHE/generations" --skip-old-files
done

needs_harc=false   # HARC's adapter: for its own row and for HARC + DPO, unless recorded
for name in harc harc_dpo; do
  if [[ ",$METHODS," == *,$name,* && ! -f "$RESULTS/$name.json.gz" ]]; then needs_harc=true; fi
done
from_run=()
if $needs_harc; then
  if [ ! -f "$RUN/train_summary.json" ]; then
    if [ -d "$RUN" ]; then resume=(--resume); else resume=(); fi
    harc train --config configs/train/cpu-full.yaml --dtype "$DTYPE" --out "$RUN" "${resume[@]}"
  fi
  from_run=(--from-run "harc=$RUN")
fi

compare() {  # compare METHODS: evaluate them, reusing every recorded row among them
  local reuse=() run=() name
  for name in ${1//,/ }; do
    if [ -f "$RESULTS/$name.json.gz" ]; then reuse+=(--from-results "$name=$RESULTS/$name.json.gz"); fi
  done
  # HARC's adapter only for a call with harc or harc_dpo (harc compare refuses it elsewhere)
  if [[ ",$1," == *,harc,* || ",$1," == *,harc_dpo,* ]]; then run=("${from_run[@]}"); fi
  harc compare --suite "configs/suites/$SUITE.yaml" --data-config configs/train/cpu-full.yaml \
    --preset full --dtype "$DTYPE" --threads 2 --out "$OUT" --methods "$1" "${run[@]}" \
    "${reuse[@]}"
}
for name in ${METHODS//,/ }; do
  [ -f "$RESULTS/$name.json.gz" ] && continue
  if [ "$name" = base ]; then compare base; else compare "base,$name"; fi
  cp "$OUT/rows/$name.json.gz" "$RESULTS/"
  [ -f "$RESULTS/base.json.gz" ] || cp "$OUT/rows/base.json.gz" "$RESULTS/"
  echo "recorded $RESULTS/$name.json.gz"
done
# The table: every recorded row of the suite, not only the ones named (in the usual order).
rows=()
for name in ${ALL//,/ }; do [ -f "$RESULTS/$name.json.gz" ] && rows+=("$name"); done
for file in "$RESULTS"/*@*.json.gz; do   # rows at a method's own preset, e.g. repbend@paper
  [ -e "$file" ] && rows+=("$(basename "$file" .json.gz)")
done
table=$(IFS=,; echo "${rows[*]}")
compare "$table"
cp "$OUT/table.md" "$OUT/tradeoff.png" "$RESULTS/"
echo "records and table: $RESULTS"
