#!/usr/bin/env bash
# The GPU evidence in one command (docs/design.md, "GPU check"). On a CUDA machine whose python3
# already has both frameworks with CUDA, matplotlib, scipy and tqdm, and MNIST in data/mnist/,
# it installs nothing and writes everything under OUT_DIR, then packs OUT_DIR into
# OUT_DIR.tar.gz beside it:
#   1 versions   the GPU, its driver, CUDA and both frameworks (versions.json)
#   2 tests      the GPU-only tests (tests/test_gpu.py); any skipped one fails the check
#   3 unroll     JAX scan at batch 64 with unroll 1, 4, 8 and 16
#   4 cmdbuf     the sweep's ends with XLA's command buffers extended to the scan's loop
#   5 kernels    kernels per training step of the fast modes, and their time (benchmarks/kernels.py)
#   6 precision  TF32 against strict fp32 for the fastest mode of each framework at batch 1024,
#                where the step is the most compute-bound
#   7 all        every mode at batch 64, 256 and 1024 for 3 epochs (JAX nojit at 256 and 1024 only)
# Each part's elapsed time is printed and kept in OUT_DIR/parts.tsv; a failed part does not stop
# the ones after it, and the exit code is 1 if any failed. SIGTERM (a timeout) stops the running
# part as SIGTERM stops the controller, which writes its summary of the finished runs; the later
# parts are skipped and OUT_DIR is packed all the same (exit 143).
#
#   benchmarks/gpu_check.sh OUT_DIR            the real check, on the GPU
#   benchmarks/gpu_check.sh OUT_DIR --smoke    the same sequence with tiny settings, one batch size
#                                              and one repeat, on whatever device there is, every
#                                              part sharing one warm compile cache, "all" cold and
#                                              warm (the test suite runs this)
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: benchmarks/gpu_check.sh OUT_DIR [--smoke]" >&2
  exit 2
fi
out=$1
smoke=0
[ "${2:-}" = "--smoke" ] && smoke=1
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
: > "$out/parts.tsv"
failed=0
t_all=$EPOCHREALTIME

seconds_since() {
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

stopped=0
child=
trap 'stopped=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT

part() {  # part NAME COMMAND...: run, time, log to OUT_DIR/NAME.log, never stop the others
  local name=$1 t0 rc
  shift
  [ "$stopped" -eq 1 ] && return
  t0=$EPOCHREALTIME
  "$@" > "$out/$name.log" 2>&1 &
  child=$!
  wait "$child"
  rc=$?
  [ "$stopped" -eq 1 ] && { wait "$child"; rc=$?; }  # the first wait returned on the signal
  child=
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(seconds_since "$t0")" | tee -a "$out/parts.tsv"
  [ "$rc" -eq 0 ] || { failed=1; tail -n 20 "$out/$name.log"; }
}

if [ "$smoke" -eq 1 ]; then
  # Tiny: 10 steps of 100 images per epoch (50 images dropped, so a wrong denominator shows).
  sizes=(--batch-sizes 100)
  common=(--epochs 2 --train-limit 1050 --lr 0.1)
  all_cache=(--cache both --compile-cache "$out/compile-cache")
  later=(--cache warm --compile-cache "$out/compile-cache")
  repeats=1
  unroll_batch=(--batch-sizes 100)
  precision_batch=(--batch-sizes 100)
  kernel_size=(--batch-size 100 --train-limit 1050 --lr 0.1 --compile-cache "$out/compile-cache")
  exclude=()
else
  # The GPU is the point: both frameworks must see it (the test suite hides it by default).
  export CUDA_VISIBLE_DEVICES=${GPU_CHECK_DEVICE:-0} JAX_PLATFORMS=cuda,cpu MLPBENCH_REQUIRE_GPU=1
  sizes=(--batch-sizes 64 256 1024)
  common=(--epochs 3 --device gpu)
  # Cold, as a user meets it: a warm cache would need one more (filling) run per configuration.
  all_cache=()
  later=()
  repeats=2
  unroll_batch=(--batch-sizes 64)
  precision_batch=(--batch-sizes 1024)
  kernel_size=(--batch-size 64)
  # Op by op, JAX's step is bound by Python (tens of ms a step): at batch 64, 781 steps an
  # epoch, its epochs alone would take much of the budget.
  exclude=(--exclude nojit@64)
fi
cuda=$("$python" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
# The fastest mode of each framework where this device has it: the CUDA graph of the compiled
# functional step needs a GPU.
fastest=(scan "$([ "$cuda" = 1 ] && echo fullgraph-cudagraph || echo fullgraph)")

part versions "$python" benchmarks/versions.py "$out/versions.json"
part tests "$python" -m pytest -rs -p no:cacheprovider tests/test_gpu.py
if [ "$smoke" -eq 0 ] && grep -q "skipped" "$out/tests.log"; then
  echo "tests: a GPU test was skipped" >&2
  failed=1
fi
# Short parts first: a timeout cuts the longest, last, which keeps what it finished.
part unroll "$python" compare_results.py --frameworks jax --modes scan --unroll 1 4 8 16 --repeats "$repeats" \
  --out-dir "$out/unroll" "${unroll_batch[@]}" "${common[@]}" "${later[@]}"
# XLA's default command buffers leave a while loop's control on the host; WHILE and CONDITIONAL
# put the whole scan into a CUDA graph (CUDA 12.3 or newer).
cmdbuf=--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL
part cmdbuf env XLA_FLAGS="$cmdbuf" "$python" compare_results.py --frameworks jax --modes scan --unroll 1 16 \
  --repeats "$repeats" --out-dir "$out/cmdbuf" "${unroll_batch[@]}" "${common[@]}" "${later[@]}"
part kernels "$python" benchmarks/kernels.py "${kernel_size[@]}" --out "$out/kernels.json"
part precision "$python" compare_results.py --modes "${fastest[@]}" --precision highest tf32 \
  --out-dir "$out/precision" "${precision_batch[@]}" "${common[@]}" "${later[@]}"
part all "$python" compare_results.py --modes all "${exclude[@]}" --out-dir "$out/all" "${sizes[@]}" \
  "${common[@]}" "${all_cache[@]}"

printf 'total\t%s\t%s\n' "$failed" "$(seconds_since "$t_all")" | tee -a "$out/parts.tsv"
tar -czf "$out.tar.gz" --exclude=compile-cache -C "$(dirname "$out")" "$(basename "$out")" || failed=1
echo "packed: $out.tar.gz"
[ "$stopped" -eq 1 ] && exit 143
exit "$failed"
