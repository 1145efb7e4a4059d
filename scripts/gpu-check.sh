#!/usr/bin/env bash
# The GPU check, run from a bundle that scripts/gpu-bundle.sh made, on a machine with no network and no checkout:
#   ./gpu-check.sh RESULTS_DIR [--allow-software] [--quick]
# Unpacks Node, the app and the Vulkan loader into a temporary folder, points the loader at the NVIDIA driver
# where the standard search finds none, then runs saln info, validate, tune, bench matmul/conv/step (--json) and
# PyTorch CUDA's training step on the same shapes, each stage under its own timeout, all within 8 minutes; every
# stage's output goes to RESULTS_DIR, with summary.tsv (stage, status, seconds, note) and check.log.
#   --allow-software  accept a software adapter (lavapipe): to test this runner on a machine without a GPU
#   --quick           small shapes, for that test (a software adapter would spend the budget on the full runs)
# Exit: 0 every stage ran; 1 a stage failed or timed out; 2 usage; 3 no (GPU) adapter appeared.
set -uo pipefail
start=$SECONDS
budget=${SALN_GPU_CHECK_SECONDS:-470} # 8 minutes, less a margin for the unpacking and the kill grace

usage() { echo "usage: gpu-check.sh RESULTS_DIR [--allow-software] [--quick]" >&2; exit 2; }
results='' allow_software=0 quick=0
for arg in "$@"; do
  case "$arg" in
    --allow-software) allow_software=1 ;;
    --quick) quick=1 ;;
    -*) usage ;;
    *) [ -z "$results" ] || usage; results=$arg ;;
  esac
done
[ -n "$results" ] || usage
bundle=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$results" && results=$(cd "$results" && pwd)
log=$results/check.log
: > "$log"
printf 'stage\tstatus\tseconds\tnote\n' > "$results/summary.tsv"
say() { printf '[gpu-check] %s\n' "$*" | tee -a "$log"; }
fail() { printf 'gpu-check: %s\n' "$2" | tee -a "$log" >&2; exit "$1"; }

# A copy cut short fails here, by name, rather than later as a corrupt archive.
(cd "$bundle" && grep -v '^#' MANIFEST | awk '{print $1 "  " $3}' | sha256sum -c --quiet >/dev/null 2>&1) \
  || fail 1 "the bundle in $bundle does not match its MANIFEST (copied incompletely?)"

work=$(mktemp -d "${TMPDIR:-/tmp}/saln-gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
# xz where installed, else Python's lzma (a machine with PyTorch has Python; a bare image may lack xz-utils).
unxz_to_stdout() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}
# dpkg-deb where installed, else the same by hand: a .deb is an ar archive whose data.tar.* holds the files.
unpack_deb() {
  if command -v dpkg-deb >/dev/null 2>&1; then dpkg-deb -x "$1" "$2"; return; fi
  python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], 'rb').read()
pos = 8  # after the '!<arch>\n' magic
while pos < len(data):
    name, size = data[pos:pos + 16].decode().strip().rstrip('/'), int(data[pos + 48:pos + 58].decode())
    if name.startswith('data.tar'):
        tarfile.open(fileobj=io.BytesIO(data[pos + 60:pos + 60 + size])).extractall(sys.argv[2])
    pos += 60 + size + (size & 1)
PY
}
say "unpacking into $work"
unxz_to_stdout "$bundle/node.xz" > "$work/node" && chmod +x "$work/node" || fail 1 "could not unpack node.xz"
unxz_to_stdout "$bundle/app.tar.xz" | tar -C "$work" -xf - || fail 1 "could not unpack app.tar.xz"
for deb in "$bundle"/debs/*.deb; do unpack_deb "$deb" "$work/vulkan" || fail 1 "could not unpack $(basename "$deb")"; done
"$work/node" --version >/dev/null 2>&1 || fail 1 "the bundled Node does not run here: $("$work/node" --version 2>&1 | head -1)"

# The bundled loader first; NVIDIA's own library folders (a container's driver mount) after it.
export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && LD_LIBRARY_PATH+=":$d"; done
export XDG_RUNTIME_DIR=$work/xdg && mkdir -p -m 700 "$XDG_RUNTIME_DIR"
export SALN_CACHE=$results/cache # the tuning this adapter gets, kept with the results

# The loader's standard search: these folders, and those under XDG_CONFIG_DIRS / XDG_DATA_DIRS.
search=(/etc/vulkan/icd.d /usr/local/etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d)
IFS=: read -ra xdg <<< "${XDG_CONFIG_DIRS:-}:${XDG_DATA_DIRS:-}"
for d in "${xdg[@]}"; do [ -n "$d" ] && search+=("$d/vulkan/icd.d"); done
standard=''
for d in "${search[@]}"; do
  for f in "$d"/nvidia_icd*.json; do [ -f "$f" ] && [ -z "$standard" ] && standard=$f; done
done
if [ -n "$standard" ]; then
  say "NVIDIA Vulkan driver found by the standard search: $standard"
elif [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  say "using the driver manifest already set: ${VK_DRIVER_FILES:-$VK_ICD_FILENAMES}"
else
  icd=''
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/nvidia/vulkan/icd.d/nvidia_icd.json /usr/lib/x86_64-linux-gnu/nvidia/nvidia_icd.json; do
    [ -f "$f" ] && { icd=$f; break; }
  done
  [ -n "$icd" ] || icd=$(find /usr/local/nvidia /usr/lib/nvidia /opt/nvidia -maxdepth 6 -name 'nvidia_icd*.json' 2>/dev/null | head -1)
  if [ -n "$icd" ]; then
    # VK_ICD_FILENAMES too, for loaders older than 1.3.207 (a system one found first on the library path).
    export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
    say "NVIDIA Vulkan driver outside the standard search: VK_DRIVER_FILES=$icd"
  else
    say "no NVIDIA Vulkan driver manifest (nvidia_icd*.json) found; trying whatever adapter the loader finds"
  fi
fi
{
  echo "bundle: $(head -1 "$bundle/MANIFEST" | sed 's/^# //')"
  echo "host: $(uname -srm); $(nproc) cores"
  echo "gpus: $(nvidia-smi -L 2>/dev/null | tr '\n' ';' || true)"
  echo "system libvulkan: $({ ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -m1 'libvulkan.so.1' | sed 's/^[[:space:]]*//' || true)"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
} > "$results/environment.txt"

saln=("$work/node" "$work/app/bin/saln-dist.mjs")
failed=()
# stage NAME CAP_SECONDS OUTPUT_FILE COMMAND...: stdout to OUTPUT_FILE, stderr to NAME.stderr, a row in summary.tsv.
stage() {
  local name=$1 cap=$2 file=$3; shift 3
  local left=$((budget - (SECONDS - start)))
  local limit=$((cap < left ? cap : left)) t0=$SECONDS rc status note=''
  if [ "$limit" -lt 5 ]; then
    printf '%s\tskipped\t0\tthe 8-minute budget is spent\n' "$name" >> "$results/summary.tsv"
    say "$name: skipped (the 8-minute budget is spent)"; failed+=("$name"); return 1
  fi
  timeout -k 5 "$limit" "$@" > "$results/$file" 2> "$results/$name.stderr"
  rc=$?
  case $rc in
    0) status=ok ;;
    124|137) status=timeout; note="cut off after ${limit} s" ;;
    *) status=failed; note="exit $rc: $(grep -v '^Warning: ' "$results/$name.stderr" | tail -1)" ;;
  esac
  # On lavapipe, fresh from unpacking, `saln info` often dies by a signal at exit after printing a complete
  # report (a teardown race in the driver or Dawn, not reproduced outside this runner). Its report is what the
  # stage is for, so that is recorded as such, not as a failure; any other stage that crashes has failed.
  if [ "$name" = info ] && [ "$rc" -gt 128 ] && [ "$rc" -ne 137 ] && "$work/node" -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).adapter || process.exit(1)' "$results/$file" 2>/dev/null; then
    status=crashed-at-exit; note="exit $rc after a complete report"
  fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - t0))" "$note" >> "$results/summary.tsv"
  say "$name: $status in $((SECONDS - t0)) s${note:+ ($note)}"
  [ "$status" = ok ] || [ "$status" = crashed-at-exit ] || { failed+=("$name"); return 1; }
}

stage info 90 info.json "${saln[@]}" info --json
if [ ! -s "$results/info.json" ] || ! grep -q '"adapter"' "$results/info.json"; then
  fail 3 "no WebGPU adapter appeared: $(grep -v '^Warning: ' "$results/info.stderr" | tail -1)"
fi
adapter=$("$work/node" -e 'const i = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${i.adapter} [${i.vendor}, ${i.architecture}, ${i.backend}]`)' "$results/info.json")
say "adapter: $adapter"
if [[ "$adapter" =~ (llvmpipe|lavapipe|SwiftShader|software) ]] && [ "$allow_software" = 0 ]; then
  fail 3 "only a software adapter appeared ($adapter): the NVIDIA Vulkan driver was not found or did not load (see $results/environment.txt)"
fi

if [ "$quick" = 1 ]; then
  validate_args=(--kernel batchnorm); matmul_args=(--shapes 64x64x64 --runs 1); conv_args=(--stem cifar --layers layer4 --batch 2 --runs 1)
  step_args=(--stem cifar --width 0.125 --batch 4 --runs 1); torch_cases=('cifar 32 4 0.125'); torch_runs=1
else
  validate_args=(); matmul_args=(); conv_args=(); step_args=()
  torch_cases=('cifar 32 32 1' 'imagenet 224 16 1'); torch_runs=5 # bench step's two cases (bench/step.ts STEP_CONFIGS)
fi
stage validate 150 validate.jsonl "${saln[@]}" validate --json "${validate_args[@]}"
stage tune 90 tune.json "${saln[@]}" tune --json
stage bench-matmul 90 bench-matmul.jsonl "${saln[@]}" bench matmul --json "${matmul_args[@]}"
stage bench-conv 120 bench-conv.jsonl "${saln[@]}" bench conv --json "${conv_args[@]}"
stage bench-step 120 bench-step.jsonl "${saln[@]}" bench step --json "${step_args[@]}"

# PyTorch CUDA on the same step shapes, from the python3 that holds PyTorch there (SALN_PEER_PYTHON to choose).
python=${SALN_PEER_PYTHON:-python3}
why=$(timeout 60 "$python" -c 'import torch, sys; sys.exit(0) if torch.cuda.is_available() else sys.exit(f"torch {torch.__version__} sees no CUDA device")' 2>&1 | tail -1)
if [ -z "$why" ]; then
  jobs='{"task": "info", "device": "cuda"}'
  for c in "${torch_cases[@]}"; do
    read -r stem size batch width <<< "$c"
    jobs+=$'\n'"{\"task\": \"step\", \"runs\": $torch_runs, \"stem\": \"$stem\", \"size\": $size, \"batch\": $batch, \"width\": $width, \"classes\": 10, \"seed\": 1}"
  done
  stage pytorch-cuda 120 pytorch-cuda.jsonl "$python" "$work/app/bench/peers/pytorch_peer.py" <<< "$jobs"
else
  echo "{\"unavailable\": \"$(printf '%s' "${why:-no python3}" | tr -d '"\\')\"}" > "$results/pytorch-cuda.jsonl"
  printf 'pytorch-cuda\tskipped\t0\t%s\n' "$why" >> "$results/summary.tsv"
  say "pytorch-cuda: skipped ($why)"
fi

say "done in $((SECONDS - start)) s; results in $results"
[ ${#failed[@]} -eq 0 ] || fail 1 "${#failed[@]} stage(s) did not finish: ${failed[*]} (see $results/summary.tsv)"
