#!/usr/bin/env bash
# One prepared GPU check (issue 17): at most 8 minutes on one H200, no network. Steps:
#   1. pytest -m gpu tests/gpu        bf16 train step, capture, generation, CAST, guard on cuda
#   2. benchmarks/roofline.py         this GPU's measured matmul peak and bandwidth
#   3. benchmarks/train_step.py       HARC vs LoRA-SFT vs two-copy, random Qwen2.5-7B in bf16
#   4. benchmarks/extraction.py       capture throughput against a plain forward (same model)
#   5. benchmarks/generation.py       greedy tokens/s at batch 64 (same model)
# and merges everything into ONE JSON (benchmarks/gpu_check_report.py), even when a step fails.
#
#   bash benchmarks/gpu_check.sh [--wheels DIR] [--out FILE]   # default FILE: $OUT/gpu_check.json
#   bash benchmarks/gpu_check.sh --dry-run --out /tmp/g.json   # the same steps, tiny, on the CPU
#
# The package runs from the source tree (PYTHONPATH=src), not installed: that needs no build
# backend and no network, writes nothing into the machine's site-packages, and a dry run here
# leaves the developer's own (editable) install alone; no step needs the `harc` entry point.
# --wheels DIR: wheels of what the machine lacks (pydantic and its needs; gguf; langdetect),
# installed with `pip install --no-index --no-deps --target` into a temporary folder put first on PYTHONPATH,
# so the machine's own packages are left alone. Fetch them on a machine with network with
#   bash benchmarks/gpu_check.sh --fetch-wheels DIR      (CPython 3.12, manylinux x86-64)
# trl and datasets are not needed: no step imports them. On the H200 (wheels in ./.whl):
#   set -o pipefail; bash benchmarks/gpu_check.sh --wheels .whl 2>&1 | tee $OUT/gpu_check.log
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
DRY=0
WHEELS=""
FETCH=""
RESULT=""
BUDGET_S=${GPU_CHECK_BUDGET_S:-470}  # every step's limit is cut to what is left of this
WHEEL_PINS=(pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0
            typing-inspection==0.4.2 typing-extensions==4.16.0 gguf==0.19.0)
PURE_PIN=langdetect==1.0.9

while (($#)); do
    case "$1" in
        --dry-run) DRY=1 ;;
        --wheels) WHEELS=$2; shift ;;
        --out) RESULT=$2; shift ;;
        --fetch-wheels) FETCH=$2; shift ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [[ -n $FETCH ]]; then
    platforms=()
    for tag in manylinux_2_28 manylinux_2_17 manylinux2014; do
        platforms+=(--platform "${tag}_x86_64")
    done
    "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${platforms[@]}" -d "$FETCH" "${WHEEL_PINS[@]}" || exit 1
    # langdetect is published as a source archive only: build its (pure-Python) wheel here
    exec "$PY" -m pip wheel --no-deps -q -w "$FETCH" "$PURE_PIN"
fi

if [[ -z $RESULT ]]; then
    if [[ -n ${OUT:-} ]]; then RESULT=$OUT/gpu_check.json
    else RESULT=$ROOT/runs/benchmarks/gpu_check.json; fi
fi
[[ $RESULT == /* ]] || RESULT=$PWD/$RESULT  # before the cd below
if [[ -n $WHEELS ]]; then WHEELS=$(cd "$WHEELS" && pwd) || exit 2; fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT" || exit 1
started=$(date +%s)

if [[ -n $WHEELS ]]; then
    PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --target "$WORK/site" "$WHEELS"/*.whl || { echo "wheel install failed" >&2; exit 1; }
fi
export PYTHONPATH="$WORK/site:$ROOT/src:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HARC_ROOFLINE=$WORK/roofline.json HARC_CACHE=$WORK/cache
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

if ((DRY)); then
    DEVICE=cpu
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    MODEL=tiny CONFIG=cpu-demo STEPS=1 WARMUP=0
    ROOFLINE=(--size 128 --mib 8 --repeats 1)
    EXTRACT=(--n-prompts 8 --batch-size 4 --repeats 1)
    GENERATE=(--n-prompts 8 --batch-size 8 --max-new-tokens 4)
else
    DEVICE=cuda
    MODEL=random:Qwen/Qwen2.5-7B CONFIG=paper-qwen2.5-7b STEPS=5 WARMUP=2
    ROOFLINE=(--size 8192 --mib 4096 --repeats 5)
    EXTRACT=(--n-prompts 64 --batch-size 16 --repeats 3)
    GENERATE=(--n-prompts 64 --batch-size 64 --max-new-tokens 128)
fi
export HARC_GPU_CHECK_DEVICE=$DEVICE

# step NAME CAP_S COMMAND...: run with a limit of min(CAP_S, time left), log to $WORK/NAME.log,
# record "NAME rc seconds" in $WORK/steps.tsv.
step() {
    local name=$1 cap=$2 left limit begin rc
    shift 2
    left=$((BUDGET_S - ($(date +%s) - started)))
    limit=$((cap < left ? cap : left))
    begin=$(date +%s.%N)
    if ((limit < 5)); then
        echo "out of time before this step" >"$WORK/$name.log"
        rc=124
    else
        timeout --kill-after=5 "$limit" "$@" >"$WORK/$name.log" 2>&1
        rc=$?
    fi
    local seconds
    seconds=$(awk -v a="$begin" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    printf '%s\t%s\t%s\n' "$name" "$rc" "$seconds" >>"$WORK/steps.tsv"
    printf '%-11s rc=%-3s %6ss (limit %ss)\n' "$name" "$rc" "$seconds" "$limit"
    if ((rc != 0)); then tail -n 15 "$WORK/$name.log" | sed 's/^/    /'; fi
}

step pytest 120 "$PY" -m pytest -q -m gpu tests/gpu -p no:cacheprovider \
    --junitxml="$WORK/pytest.xml"
step roofline 60 "$PY" benchmarks/roofline.py --device "$DEVICE" "${ROOFLINE[@]}" \
    --out "$WORK/roofline.json"
step train_step 210 "$PY" benchmarks/train_step.py --model "$MODEL" --config "$CONFIG" \
    --device "$DEVICE" --dtype bfloat16 --steps "$STEPS" --warmup "$WARMUP" \
    --out "$WORK/train_step.json"
step extraction 90 "$PY" benchmarks/extraction.py --model "$MODEL" --device "$DEVICE" \
    --dtype bfloat16 "${EXTRACT[@]}" --out "$WORK/extraction.json"
step generation 120 "$PY" benchmarks/generation.py --model "$MODEL" --device "$DEVICE" \
    --dtypes bfloat16 "${GENERATE[@]}" --out "$WORK/generation.json"

report=(--work "$WORK" --out "$RESULT" --device "$DEVICE" --wall-s "$(($(date +%s) - started))")
((DRY)) && report+=(--dry-run)
"$PY" benchmarks/gpu_check_report.py "${report[@]}"
