#!/usr/bin/env bash
# One command for a lent GPU machine (issue 10, item 5); under 8 minutes on an H100/H200.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]        # default: $OUT if set, else gpu_results/
#   bash benchmarks/gpu_check.sh --dry-run [OUT_DIR]   # everything but the GPU (no timing runs)
#
# Writes to OUT_DIR (every stage has its own time limit, so a slow stage cannot eat the others;
# partial output is kept):
#   env.txt              GPU, driver, torch, CUDA, the peak figure used
#   pytest_cuda.txt      pytest -m cuda (tests/test_cuda.py: fp16/bf16 steps finite, exact resume on
#                        CUDA, fast profile picks bf16 + channels_last)
#   train_step.md/.jsonl the side-by-side table on CUDA: reference fp32 / bf16 / channels_last+bf16+fused
#                        vs i2i exact / bf16 / fast, with conv TFLOP/s and the share of the bf16 peak
#                        (FlopCounterMode over one step; peak 989 TFLOP/s dense bf16, H100/H200 SXM)
#   pix2pixhd_memory.md  peak torch.cuda.max_memory_allocated and images/s per pix2pixHD preset at
#                        full size (512p 1024x512, 1024p 2048x1024, 2048p 4096x2048), fp32 and bf16
#   summary.txt          exit status and seconds of every stage
# References come from ../shared/reference-code and ../shared/bench/ref_steps.py when present.
set -uo pipefail

DRY=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY=1; shift; fi
RESULTS="${1:-${OUT:-gpu_results}}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3 || command -v python)"
PEAK_TFLOPS="${PEAK_TFLOPS:-989}"   # dense bf16, H100/H200 SXM (H100 PCIe: 756)
SHARED="${SHARED:-$ROOT/../shared}"

die() { echo "gpu_check: $*" >&2; exit 2; }

[[ -n "$PY" && -x "$PY" ]] || die "no python found (set PYTHON=...)"
if (( ! DRY )); then  # fail fast, before anything slow
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 \
    || die "no NVIDIA GPU here (nvidia-smi missing or sees no device); nothing measured. --dry-run checks the rest"
fi

# --- checks that need no GPU --------------------------------------------------------------
"$PY" - <<'EOF' || die "the i2i packages do not import (install: see README)"
import i2i_core, torch, pytest  # noqa: F401
import i2i_pix2pix, i2i_cyclegan, i2i_pix2pixhd, i2i_datasets  # noqa: F401
EOF
for f in benchmarks/train_step.py benchmarks/pix2pixhd_memory.py tests/test_cuda.py; do
  [[ -f "$f" ]] || die "missing $f"
done
"$PY" benchmarks/train_step.py --help >/dev/null || die "benchmarks/train_step.py --help failed"
"$PY" benchmarks/pix2pixhd_memory.py --help >/dev/null || die "benchmarks/pix2pixhd_memory.py --help failed"
REF_ARGS=()
if [[ -f "$SHARED/bench/ref_steps.py" && -d "$SHARED/reference-code" ]]; then
  RC="$SHARED/reference-code"
  REF_ARGS=(--ref-steps "$SHARED/bench/ref_steps.py" --ref-junyanz "$RC/junyanz"
            --ref-pix2pixhd "$RC/pix2pixHD" --ref-book "$RC/book-cyclegan" --ref-variants cl_bf16_fused)
  REF_NOTE="references: $RC"
else
  REF_NOTE="references: not found under $SHARED (i2i columns only)"
fi
mkdir -p "$RESULTS" || die "cannot create $RESULTS"
touch "$RESULTS/.write_test" && rm -f "$RESULTS/.write_test" || die "$RESULTS is not writable"

TS=(benchmarks/train_step.py --device cuda --workloads pix2pix cyclegan book_cyclegan pix2pixhd pix2pixhd_vgg
    --i2i-variants exact,fast --iters 6 --warmup 2 --flops --peak-tflops "$PEAK_TFLOPS" --timeout 120
    --out "$RESULTS/train_step.jsonl" "${REF_ARGS[@]}")
MEM=(benchmarks/pix2pixhd_memory.py --device cuda --presets 512p,1024p,2048p --dtypes bf16,fp32 --time-iters 3)

if (( DRY )); then
  echo "gpu_check --dry-run: python $PY, results to $RESULTS, $REF_NOTE"
  echo "would run:"
  echo "  CUBLAS_WORKSPACE_CONFIG=:4096:8 $PY -m pytest -m cuda -q tests/test_cuda.py"
  echo "  $PY ${TS[*]}"
  echo "  $PY ${MEM[*]}"
  "$PY" -m pytest -m cuda -q --collect-only tests/test_cuda.py >/dev/null || die "tests/test_cuda.py does not collect"
  echo "dry run OK (GPU not checked)"
  exit 0
fi

# --- the GPU: fail fast and clearly -------------------------------------------------------
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
  || die "torch sees no CUDA device (torch built without CUDA, or no driver); nothing measured"

summary() { echo "$1: exit $2, ${3}s" | tee -a "$RESULTS/summary.txt"; }
stage() {  # stage NAME LIMIT_S OUTFILE CMD...
  local name=$1 limit=$2 outfile=$3; shift 3
  local t0=$SECONDS
  echo "== $name (limit ${limit}s) -> $outfile"
  timeout --signal=INT --kill-after=15 "$limit" "$@" >"$outfile" 2>"$outfile.stderr"
  local rc=$?
  summary "$name" "$rc" "$((SECONDS - t0))"
  tail -n 40 "$outfile"
}
: >"$RESULTS/summary.txt"
{
  date -u +%FT%TZ
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'bf16', torch.cuda.is_bf16_supported())"
  echo "peak dense bf16 used for the FLOP share: $PEAK_TFLOPS TFLOP/s"
  echo "$REF_NOTE"
} >"$RESULTS/env.txt" 2>&1
cat "$RESULTS/env.txt"

export CUBLAS_WORKSPACE_CONFIG=:4096:8
stage "pytest -m cuda" 90 "$RESULTS/pytest_cuda.txt" "$PY" -m pytest -m cuda -q -p no:cacheprovider tests/test_cuda.py
unset CUBLAS_WORKSPACE_CONFIG
rm -f "$RESULTS/train_step.jsonl"
stage "train_step (CUDA)" 220 "$RESULTS/train_step.md" "$PY" "${TS[@]}"
stage "pix2pixhd presets (CUDA)" 150 "$RESULTS/pix2pixhd_memory.md" "$PY" "${MEM[@]}"
echo "results in $RESULTS"
