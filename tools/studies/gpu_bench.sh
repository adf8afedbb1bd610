#!/usr/bin/env bash
# GPU speed check for one CUDA GPU (H100/H200 class), under 7.5 minutes in all (issue 12):
#   ours vs the Hugging Face ViTMAE and vs the official MAE model (rebuilt from timm blocks), ViT-L and
#   ViT-B, batch 256 and 64, bf16, eager; ours compiled (default, reduce-overhead = CUDA graphs,
#   max-autotune-no-cudagraphs) against our eager step; CUDA profiles (kernel families, GPU idle);
#   Table 2 at batch 256; the loader on generated JPEGs; a real `mae train` of ViT-L at batch 256
#   (img/s, data time) against the benchmark's img/s for the same model and batch.
# Needs torch, timm, transformers; installs what else it needs (onedl-mmengine and its pure-Python
# deps) from wheels in .whl/ if present, else says exactly what is missing.
# Results (JSON, logs, Table 2 chart) go to $OUT if set, else work_dirs/gpu_bench; a summary at the end.
# Every run has its own time limit and the whole script a budget (GPU_BENCH_BUDGET_S, default 440 s):
# a run that would not fit is skipped and named, so one hang cannot eat the others' time.
# GPU_BENCH_DRY=1: the same script on the CPU with tiny models and steps (checks the script, no figures).
# GPU_BENCH_ONLY=REGEX: only the runs whose names match (e.g. 'compiled' for a rerun of the compiled steps;
# 'train' covers the JPEGs, the loader and `mae train`).
{  # the whole script is read before it runs, so editing this file cannot disturb a running copy
set -uo pipefail
cd "$(dirname "$0")/../.."
START=$SECONDS
OUT="${OUT:-work_dirs/gpu_bench}"
PY="${PYTHON:-python3}"
DRY="${GPU_BENCH_DRY:-0}"
BUDGET="${GPU_BENCH_BUDGET_S:-440}"
ONLY="${GPU_BENCH_ONLY:-.}"
SCALE=1  # time limits x SCALE (the dry run on a small shared CPU is slower than the GPU)
mkdir -p "$OUT"
failed=()
skipped=()

if [ -d .whl ] && compgen -G ".whl/*.whl" > /dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/mae_site \
        .whl/*.whl && export PYTHONPATH="/tmp/mae_site${PYTHONPATH:+:$PYTHONPATH}"
fi
missing=$("$PY" -c "import importlib.util as u; print(' '.join(m for m in ('torch', 'torchvision', 'timm',
'transformers', 'mmengine', 'numpy', 'PIL', 'matplotlib', 'yaml') if u.find_spec(m) is None))")
if [ -n "$missing" ]; then
    echo "missing Python packages: $missing (mmengine = the onedl-mmengine wheel + addict, termcolor, yapf," \
         "platformdirs: put those wheels in .whl/, made where pip reaches PyPI with" \
         "'pip download --no-deps -d .whl onedl-mmengine addict termcolor yapf platformdirs'," \
         "and carry .whl to this machine)" >&2
    exit 3
fi

if [ "$DRY" = 1 ]; then
    DEV=cpu; L=tiny; B=tiny; BIG=4; SMALL=2; WORKERS=2; SCALE=6
    SIZE=(--img-size 32 --decoder-width 64 --decoder-depth 1 --matmul-size 256)
    T2SIZE=(--img-size 32 --decoder-width 64 --decoder-depths 1 --matmul-size 256)
    E=(--warmup 1 --steps 1); C=(--warmup 1 --steps 1); T2=(--warmup 0 --steps 1)
    NJPEG=16; NLINK=2; TRAIN_S=60; TRAIN_CFG=configs/pretrain/mae_vit-tiny-p8_folder_cpu.py
    TRAIN_OPTS=(train_dataloader.batch_size=$BIG train_dataloader.num_workers=1 default_hooks.logger.interval=1)
    PROF=(--profile --profile-steps 1)
else
    if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "no CUDA device visible to torch: this script is for a GPU machine (GPU_BENCH_DRY=1 checks it on a CPU)" >&2
        exit 2
    fi
    DEV=cuda; L=large; B=base; BIG=256; SMALL=64; WORKERS=14
    SIZE=(--matmul-size 8192); T2SIZE=(--matmul-size 8192 --decoder-depths 8,1)
    E=(--warmup 3 --steps 8); C=(--warmup 3 --steps 6); T2=(--warmup 2 --steps 5)
    NJPEG=384; NLINK=600; TRAIN_S=85; TRAIN_CFG=configs/pretrain/mae_vit-large-p16_800e_in1k.py
    TRAIN_OPTS=(train_dataloader.batch_size=$BIG train_dataloader.num_workers=$WORKERS default_hooks.logger.interval=10)
    PROF=(--profile --profile-steps 3)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu.txt"
COMMON=(--device "$DEV" --precision bf16)

left() { echo $(( BUDGET - (SECONDS - START) )); }

run() {  # run NAME TIME_LIMIT_S command...: the limit is cut to what the budget has left
    local name=$1 limit=$(( $2 * SCALE ))
    shift 2
    [[ "$name" =~ $ONLY ]] || return 0
    local rem
    rem=$(left)
    [ "$rem" -lt "$limit" ] && limit=$rem
    if [ "$limit" -lt 20 ]; then
        echo "-- $name skipped: ${rem}s of the budget left"
        skipped+=("$name")
        return
    fi
    echo "== $name (limit ${limit}s, $(( SECONDS - START ))s elapsed): $*"
    timeout --kill-after=5 "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    grep -v "^  \(warm-up\|step\) " "$OUT/$name.log" | tail -n 25
    if [ "$rc" -ne 0 ]; then
        echo "!! $name failed (exit $rc$([ "$rc" -eq 124 ] && echo ', time limit'))"
        failed+=("$name")
    fi
}

bench() {  # bench NAME LIMIT benchmark-args...
    local name=$1 limit=$2
    shift 2
    run "$name" "$limit" "$PY" -m tools.benchmark "$@" --json "$OUT/$name.json"
}

P=(pretrain "${COMMON[@]}" "${SIZE[@]}")
bench vit_l_b${BIG}_eager 60 "${P[@]}" --model $L --batch $BIG --peers hf,official "${E[@]}"
bench vit_l_b${SMALL}_eager 50 "${P[@]}" --model $L --batch $SMALL --peers hf,official "${E[@]}" "${PROF[@]}"
bench vit_l_b${SMALL}_bf16_weights 45 "${P[@]}" --model $L --batch $SMALL --no-peer --bf16-weights --with-eager \
    "${E[@]}" "${PROF[@]}"
bench vit_b_b${BIG}_eager 40 "${P[@]}" --model $B --batch $BIG --peers hf,official "${E[@]}"
bench vit_b_b${SMALL}_eager 35 "${P[@]}" --model $B --batch $SMALL --peers hf,official "${E[@]}"
bench table2_b256 60 table2 --models $L --batch $BIG "${COMMON[@]}" "${T2SIZE[@]}" "${T2[@]}" \
    --png "$OUT/table2_b256.png"

# The loader and a real `mae train` on generated JPEGs (symlinked many times: one long epoch).
if [[ train =~ $ONLY ]]; then
DATA=$(mktemp -d /tmp/mae_jpegs.XXXX)
"$PY" -m tools.benchmark.gpu_report jpegs "$DATA" $NJPEG $NLINK | tee "$OUT/jpegs.log"
STEP=$("$PY" -m tools.benchmark.gpu_report step-time "$OUT/vit_l_b${BIG}_eager.json" 2>/dev/null || echo "")
if [ -n "$STEP" ]; then GIVEN=(--step-time "$STEP"); else GIVEN=(--model-ips 1000); fi
bench train_loader 40 loader --data "$DATA" --workers $WORKERS --batch $BIG --batches 6 --images 32 \
    --device "$DEV" "${GIVEN[@]}"
TRAIN_DIR=$(mktemp -d /tmp/mae_train.XXXX)  # not under $OUT: no checkpoint travels back
REM=$(( $(left) - 10 ))
[ "$REM" -lt "$TRAIN_S" ] && TRAIN_S=$REM
if [ "$TRAIN_S" -ge 30 ]; then
    echo "== mae train for ${TRAIN_S}s ($(( SECONDS - START ))s elapsed): $TRAIN_CFG on $DATA"
    timeout --kill-after=5 "$TRAIN_S" "$PY" -m tools.cli train "$TRAIN_CFG" --work-dir "$TRAIN_DIR" --cfg-options \
        train_dataloader.dataset.root="$DATA" "${TRAIN_OPTS[@]}" max_epochs=1 warmup_epochs=0 \
        default_hooks.checkpoint.interval=1000 default_hooks.checkpoint.save_last=False \
        > "$OUT/train.log" 2>&1
    rc=$?
    tail -n 3 "$OUT/train.log"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then echo "!! train failed (exit $rc)"; failed+=(train); fi
    "$PY" -m tools.benchmark.gpu_report train-speed "$TRAIN_DIR" $BIG "$OUT/train_speed.json" \
        "ViT-L/16 bf16 eager, batch $BIG, $WORKERS workers" "vit_l_b${BIG}_eager"
    cp "$TRAIN_DIR"/*/vis_data/scalars.json "$OUT/train_scalars.jsonl" 2>/dev/null
else
    echo "-- train skipped: budget"; skipped+=(train)
fi
rm -rf "$DATA" "$TRAIN_DIR"
fi

# Compiled steps last: their compile time is the least predictable.
bench vit_l_b${BIG}_compiled_default 110 "${P[@]}" --model $L --batch $BIG --peers hf,official --compile \
    --with-eager "${C[@]}"
bench vit_l_b${SMALL}_compiled_reduce_overhead 100 "${P[@]}" --model $L --batch $SMALL --no-peer --compile \
    --compile-mode reduce-overhead --with-eager "${C[@]}" "${PROF[@]}"
bench vit_l_b${SMALL}_compiled_max_autotune 120 "${P[@]}" --model $L --batch $SMALL --no-peer --compile \
    --compile-mode max-autotune-no-cudagraphs --with-eager "${C[@]}"

"$PY" -m tools.benchmark.gpu_report summary "$OUT" 2>&1 | tee "$OUT/summary.txt"
echo "total $(( SECONDS - START ))s of a ${BUDGET}s budget"
[ ${#skipped[@]} -ne 0 ] && echo "skipped (budget): ${skipped[*]}"
if [ ${#failed[@]} -ne 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
exit 0
}
