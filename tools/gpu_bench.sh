#!/usr/bin/env bash
# GPU speed check for one CUDA GPU (H100/H200 class), under 8 minutes in all:
#   ViT-B and ViT-L MAE pretraining steps in bf16 against the Hugging Face ViTMAE peer (bf16, and
#   fp32 for ViT-B), our ViT-B step under torch.compile, and the paper's Table 2 on the GPU.
# Results (JSON, logs, Table 2 chart) go to $OUT if set, else work_dirs/gpu_bench.
# Usage: bash tools/gpu_bench.sh        (needs the 'bench' extra: pip install -e '.[bench]')
# Every run has its own time limit, so one slow or failing run cannot eat the others' time;
# the exit status is 1 if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-work_dirs/gpu_bench}"
PY="${PYTHON:-python}"
mkdir -p "$OUT"
failed=()

run() {  # run NAME TIME_LIMIT_S benchmark-args...
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): mae bench $*"
    timeout --kill-after=10 "$limit" "$PY" -m tools.benchmark "$@" --json "$OUT/$name.json" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        echo "!! $name failed (exit $rc$([ "$rc" -eq 124 ] && echo ', time limit'))"
        failed+=("$name")
    fi
}

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device visible to torch: this script is for a GPU machine" >&2
    exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu.txt"

COMMON=(--device cuda --precision bf16 --warmup 5 --steps 20)
run vit_b_bf16              75  pretrain --model base  --batch 128 "${COMMON[@]}" --peer-precision bf16
run vit_b_bf16_vs_peer_fp32 75  pretrain --model base  --batch 128 "${COMMON[@]}" --peer-precision fp32
run vit_l_bf16              100 pretrain --model large --batch 64  "${COMMON[@]}" --peer-precision bf16 --profile
run vit_b_bf16_compiled     120 pretrain --model base  --batch 128 "${COMMON[@]}" --peer-precision bf16 --compile
run table2_bf16             100 table2 --models base,large --decoder-depths 8,1 --batch 64 --device cuda \
    --precision bf16 --warmup 3 --steps 10 --png "$OUT/table2_bf16.png"

"$PY" - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
print("\n== summary (img/s from median step; MFU = model FLOP/s / measured 2048^2 matmul peak)")
for name in ("vit_b_bf16", "vit_b_bf16_vs_peer_fp32", "vit_l_bf16", "vit_b_bf16_compiled"):
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        print(f"{name:26} no result")
        continue
    d = json.load(open(path))
    o, p, r = d["ours"], d.get("peer"), d.get("ratio_ours_over_peer") or {}
    line = f"{name:26} ours {o['images_per_s']:8.1f} img/s MFU {o['mfu_of_measured_matmul_peak']:6.1%}"
    if p:
        line += (f" | peer ({p['precision']}) {p['images_per_s']:8.1f} img/s MFU {p['mfu_of_measured_matmul_peak']:6.1%}"
                 f" | ours/peer {r['images_per_s']:.2f}x")
    print(line)
path = os.path.join(out, "table2_bf16.json")
if os.path.exists(path):
    for row in json.load(open(path))["rows"]:
        mem = f"{row['memory_ratio']:.2f}x" if row["memory_ratio"] else "n/a"
        print(f"table2 ViT-{row['model'][0].upper()} dec {row['decoder_depth']}: speedup {row['speedup']:.2f}x "
              f"(FLOPs ratio {row['flops_ratio']:.2f}x), memory ratio {mem}")
EOF

if [ ${#failed[@]} -ne 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
