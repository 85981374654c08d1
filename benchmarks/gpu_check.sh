#!/usr/bin/env bash
# The GPU evidence (docs/design.md, "GPU check"). On a CUDA machine whose python3 already has both
# frameworks with CUDA, matplotlib, scipy and tqdm, and MNIST in data/mnist/, it installs nothing,
# writes everything under OUT_DIR and packs OUT_DIR into OUT_DIR.tar.gz beside it.
#
#   benchmarks/gpu_check.sh OUT_DIR [--smoke] [--plan] [PART ...]
#
# Parts, with what one repeat of each took on an H100 (2026-11-26; a JAX process spends about 25 s
# building its two XLA programs, a cold torch.compile about 10 s). The controller parts run
# GPU_CHECK_REPEATS repeats (default 3, so that every speed finding has a paired interval), about
# that many times as long:
#   versions   the GPU, its driver, CUDA and both frameworks (versions.json)              15 s
#   tests      the GPU-only tests (tests/test_gpu.py); a skipped one fails the check      about 60 s
#   fast       the fastest mode of each framework (JAX scan, PyTorch fullgraph-cudagraph)
#              at batch 64, 256 and 1024, 3 epochs: the speed targets                     about 200 s
#   unroll     JAX scan at batch 64 with unroll 1, 4, 8 and 16                            about 145 s
#   cmdbuf     unroll 1 and 16 with XLA's command buffers extended to the scan's loop     about 65 s
#   kernels    kernels per step of the fast modes and their time (benchmarks/kernels.py)  about 75 s
#   precision  TF32 against strict fp32, the fastest mode of each framework, batch 1024   about 155 s
#   all        every mode at batch 64, 256 and 1024, 3 epochs (JAX nojit not at 64)      about 630 s
# Without PARTs: versions, tests and fast, about 12 minutes at 3 repeats; every part together
# about 65, so the parts are run in turns, each resumable on its own. GPU_CHECK_BATCHES="B ..." runs
# the parts that sweep batch sizes (fast, all) at those sizes only.
#
# Each part's elapsed time is printed and kept in OUT_DIR/parts.tsv; a failed part does not stop
# the ones after it, and the exit code is 1 if any failed. SIGTERM (a timeout) stops the running
# part as SIGTERM stops the controller, which writes its summary of the finished runs; the later
# parts are skipped and OUT_DIR is packed all the same (exit 143; 130 for Ctrl-C).
#
# --smoke runs every part (or the PARTs named) with tiny settings, one batch size and one repeat,
# on whatever device there is, all sharing one warm compile cache: the test suite runs it on the
# CPU so that the script cannot rot between GPU runs. --plan runs nothing: it prints each part's
# command, one line each (NAME, a tab, the command), for a test to check every flag against the
# tools' own parsers. Under --smoke, the part "all" runs every mode cold except fullgraph, and each
# compiler warm once: torch.compile's object-oriented step cold only, its functional step warm
# only, JAX's scan both ways (a cold Inductor compile is 10 to 18 s of a 2-core CPU; the four of
# cold-and-warm for both took 62 s of the smoke's 188 on the AMD EPYC VM, JAX's step and nojit
# warm 11 s more).
set -uo pipefail
cd "$(dirname "$0")/.."
all_parts=(versions tests fast unroll cmdbuf kernels precision all)
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: benchmarks/gpu_check.sh OUT_DIR [--smoke] [--plan] [PART ...]; parts: ${all_parts[*]}" >&2
  exit 2
fi
out=$1
shift
smoke=0
if [ "${1:-}" = "--smoke" ]; then
  smoke=1
  shift
fi
plan=0
if [ "${1:-}" = "--plan" ]; then
  plan=1
  shift
fi
parts=("$@")
for p in "${parts[@]}"; do
  [[ " ${all_parts[*]} " == *" $p "* ]] || { echo "gpu_check.sh: unknown part $p (parts: ${all_parts[*]})" >&2; exit 2; }
done
if [ ${#parts[@]} -eq 0 ]; then
  if [ "$smoke" -eq 1 ]; then parts=("${all_parts[@]}"); else parts=(versions tests fast); fi
fi
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
[ "$plan" -eq 1 ] || : > "$out/parts.tsv"
failed=0
t_all=$EPOCHREALTIME

seconds_since() {
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

stopped=0
child=
stop() {  # remember the signal (exit 128 + its number, as the controller does), stop the running part
  stopped=$1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap 'stop 143' TERM
trap 'stop 130' INT

part() {  # part NAME COMMAND...: run if asked for, time, log to OUT_DIR/NAME.log, never stop the others
  local name=$1 t0 rc
  shift
  [[ " ${parts[*]} " == *" $name "* ]] || return 0
  [ "$stopped" -ne 0 ] && return 0
  if [ "$plan" -eq 1 ]; then
    printf '%s\t%s\n' "$name" "$(printf '%q ' "$@")"
    return 0
  fi
  t0=$EPOCHREALTIME
  "$@" > "$out/$name.log" 2>&1 &
  child=$!
  wait "$child"
  rc=$?
  [ "$stopped" -ne 0 ] && { wait "$child"; rc=$?; }  # the first wait returned on the signal
  child=
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(seconds_since "$t0")" | tee -a "$out/parts.tsv"
  [ "$rc" -eq 0 ] || { failed=1; tail -n 20 "$out/$name.log"; }
}

if [ "$smoke" -eq 1 ]; then
  # Tiny: 10 steps of 100 images per epoch (50 images dropped, so a wrong denominator shows).
  read -r -a batches <<< "${GPU_CHECK_BATCHES:-100}"
  common=(--epochs 2 --train-limit 1050 --lr 0.1)
  all_cache=(--cache both --compile-cache "$out/compile-cache")
  later=(--cache warm --compile-cache "$out/compile-cache")
  repeats=1
  unrolls=(1 8)  # two values show the sweep's plumbing
  one_batch=100
  precision_batch=100
  kernel_size=(--train-limit 1050 --lr 0.1 --compile-cache "$out/compile-cache")
  # One warm JAX mode: step, scan, nojit and the NNX modes reach XLA's cache by one code path.
  exclude=(--exclude compile@warm fullgraph@cold step@warm nojit@warm nnx@warm nnx-split@warm)
else
  # The GPU is the point: both frameworks must see it (the test suite hides it by default).
  export CUDA_VISIBLE_DEVICES=${GPU_CHECK_DEVICE:-0} JAX_PLATFORMS=cuda,cpu MLPBENCH_REQUIRE_GPU=1
  read -r -a batches <<< "${GPU_CHECK_BATCHES:-64 256 1024}"
  common=(--epochs 3 --device gpu)
  # Cold, as a user meets it: a warm cache would need one more (filling) run per configuration.
  all_cache=()
  later=()
  repeats=${GPU_CHECK_REPEATS:-3}
  unrolls=(1 4 8 16)
  one_batch=64
  precision_batch=1024
  kernel_size=()
  # Op by op, JAX's step is bound by Python (tens of ms a step): at batch 64, 781 steps an
  # epoch, its epochs alone would take much of the budget.
  exclude=()
  [[ " ${batches[*]} " == *" 64 "* ]] && exclude=(--exclude nojit@64)
fi
# An empty CUDA_VISIBLE_DEVICES (the test suite's) hides every GPU: no need to load torch to ask.
if [ "${CUDA_VISIBLE_DEVICES-unset}" = "" ]; then
  cuda=0
else
  cuda=$("$python" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
fi
# The fastest mode of each framework on a GPU. Without one (--smoke on a CPU), where TF32 changes
# nothing and the point is the plumbing, PyTorch's stand-in is eager, which compiles nothing.
fastest=(scan "$([ "$cuda" = 1 ] && echo fullgraph-cudagraph || echo eager)")
# XLA's default command buffers leave a while loop's control on the host; WHILE and CONDITIONAL
# put the whole scan into a CUDA graph (CUDA 12.3 or newer).
cmdbuf=--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL

part versions "$python" benchmarks/versions.py "$out/versions.json"
part tests "$python" -m pytest -rs -p no:cacheprovider tests/test_gpu.py
if [ "$smoke" -eq 0 ] && [ "$plan" -eq 0 ] && [[ " ${parts[*]} " == *" tests "* ]] \
    && grep -q "skipped" "$out/tests.log"; then
  echo "tests: a GPU test was skipped" >&2
  failed=1
fi
part fast "$python" compare_results.py --modes "${fastest[@]}" --repeats "$repeats" --out-dir "$out/fast" \
  --batch-sizes "${batches[@]}" "${common[@]}" "${later[@]}"
part unroll "$python" compare_results.py --frameworks jax --modes scan --unroll "${unrolls[@]}" --repeats "$repeats" \
  --out-dir "$out/unroll" --batch-sizes "$one_batch" "${common[@]}" "${later[@]}"
part cmdbuf env XLA_FLAGS="$cmdbuf" "$python" compare_results.py --frameworks jax --modes scan --unroll 1 16 \
  --repeats "$repeats" --out-dir "$out/cmdbuf" --batch-sizes "$one_batch" "${common[@]}" "${later[@]}"
kernels_part() {
  part kernels "$python" benchmarks/kernels.py --batch-size "$one_batch" "${kernel_size[@]}" --out "$out/kernels.json"
}
# On a GPU the short kernels part comes before the long ones, which a timeout may cut; under --smoke
# it comes last, to find fullgraph's compiled step in "all"'s warm cache (9 s instead of 23).
[ "$smoke" -eq 0 ] && kernels_part
part precision "$python" compare_results.py --modes "${fastest[@]}" --precision highest tf32 --repeats "$repeats" \
  --out-dir "$out/precision" --batch-sizes "$precision_batch" "${common[@]}" "${later[@]}"
part all "$python" compare_results.py --modes all "${exclude[@]}" --repeats "$repeats" --out-dir "$out/all" \
  --batch-sizes "${batches[@]}" "${common[@]}" "${all_cache[@]}"
[ "$smoke" -eq 1 ] && kernels_part
[ "$plan" -eq 1 ] && exit 0

printf 'total\t%s\t%s\n' "$failed" "$(seconds_since "$t_all")" | tee -a "$out/parts.tsv"
tar -czf "$out.tar.gz" --exclude=compile-cache -C "$(dirname "$out")" "$(basename "$out")" || failed=1
echo "packed: $out.tar.gz"
[ "$stopped" -ne 0 ] && exit "$stopped"
exit "$failed"
