#!/bin/sh
# A diagnosis, never the default: build a one-function shim that answers oneMKL's CPU-vendor
# check with "Intel", so that PyTorch's MKL (linked into libtorch_cpu.so) takes the code path it
# takes on an Intel CPU of the same instruction set instead of its generic one on AMD. Prints the
# shim's path; use it as an arm of the benchmark, named as the diagnosis it is:
#
#   SHIM=$(sh benchmarks/mkl_intel_path.sh)
#   python compare_results.py --frameworks pytorch --arm mkl-generic --arm mkl-intel-path:LD_PRELOAD=$SHIM
#
# Refuses in one line (exit 2) without a C compiler, without the symbol in this Python's PyTorch,
# or where MKL's own verbose line shows the same code path with the shim as without it (a symbol
# that MKL binds internally passes nm and changes nothing).
set -eu
PYTHON=${PYTHON:-python}
OUT=${1:-${TMPDIR:-/tmp}/mkl_intel_path.so}
fail() { echo "error: $*" >&2; exit 2; }

CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || fail "no C compiler ($CC): install gcc, or set CC"
LIB=$("$PYTHON" -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib', 'libtorch_cpu.so'))" 2>/dev/null) \
    || fail "$PYTHON cannot import torch"
nm -D "$LIB" 2>/dev/null | grep -q ' mkl_serv_intel_cpu_true$' \
    || fail "$LIB does not export mkl_serv_intel_cpu_true: this PyTorch's MKL cannot be shimmed this way"

SRC=$(mktemp --suffix=.c)
trap 'rm -f "$SRC"' EXIT
echo 'int mkl_serv_intel_cpu_true(void) { return 1; }' > "$SRC"
"$CC" -shared -fPIC -O2 -o "$OUT" "$SRC" || fail "$CC could not build the shim"

# MKL's verbose line names the instruction set it dispatched to; it prints on stdout.
path() {
    env "$@" "$PYTHON" -c "
import torch
with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
" 2>/dev/null | sed -n 's/.*for Intel(R) 64 architecture \(.*\), Lnx.*/\1/p' | head -1
}
WITHOUT=$(path)
WITH=$(path LD_PRELOAD="$OUT")
[ -n "$WITHOUT" ] || fail "MKL printed no verbose line: is this PyTorch's BLAS MKL?"
[ "$WITH" != "$WITHOUT" ] || fail "the shim changed nothing: MKL reports '$WITHOUT' with and without it"
echo "MKL without the shim: $WITHOUT" >&2
echo "MKL with the shim:    $WITH" >&2
echo "$OUT"
