#!/usr/bin/env bash
# One idempotent set-up for a fresh machine: npm packages, a Vulkan driver Dawn accepts, the Fashion-MNIST data.
# .ci/run calls this same script, so what CI proves is what a user runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/saln-runtime}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true

say() { printf '[setup] %s\n' "$*"; }

# --peers: also PyTorch (Debian's python3-torch, CPU) for `npm run bench -- --peers`; off by default, since it
# weighs hundreds of MiB that neither training nor the tests need. With it OpenBLAS: Debian's torch calls the
# system libblas.so.3 for its matrix products, and without OpenBLAS that is netlib's reference BLAS (about 4
# GFLOP/s at 1024^3 on 2 cores): a peer no PyTorch user has. Its convolutions use oneDNN either way.
with_peers=0
for arg in "$@"; do
  case "$arg" in
    --peers) with_peers=1 ;;
    *) echo "[setup] unknown option '$arg' (known: --peers)" >&2; exit 2 ;;
  esac
done

if [ -f package-lock.json ] && [ ! -d node_modules/webgpu ] || [ "${SALN_SETUP_FORCE_NPM:-}" = 1 ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
fi

# The library build (dist/) that `import ... from 'saln'` resolves to.
say "building the library (dist/)"
npm run -s build

adapter_ok() { node scripts/probe-adapter.mjs >/dev/null 2>&1; }

need_apt=()
if adapter_ok; then
  say "a WebGPU adapter is available: $(node scripts/probe-adapter.mjs 2>/dev/null)"
else
  need_apt+=(vulkan)
fi
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(fashion-mnist)
# /usr/bin/python3, not the first python3 on PATH: Debian's packages install for the system interpreter.
if [ "$with_peers" = 1 ]; then
  if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then say "PyTorch peer: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"; else need_apt+=(torch); fi
  dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need_apt+=(openblas)
fi
# The report test opens report.html in a real headless browser.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# The PNG copies of the charts draw their text with it.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts)

if [ ${#need_apt[@]} -eq 0 ]; then say "nothing to install"; exit 0; fi

manual_help() {
  cat >&2 <<TXT
[setup] cannot install system packages here ($1). Install by hand, then rerun 'npm run setup':
  - a Vulkan driver that Dawn accepts: on Debian bookworm, add the bookworm-backports suite and run
      apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1
    (bookworm's own Mesa 22 is refused by Dawn); on a distro with Mesa >= 24, its mesa-vulkan-drivers + libvulkan1.
    A machine with a real GPU needs only its vendor's Vulkan driver and libvulkan1.
  - optional data: Debian's dataset-fashion-mnist (IDX files under /usr/share/datasets/fashion-mnist).
  - fonts-dejavu-core, for the text of the PNG charts (the SVG charts need no fonts).
  - chromium, the headless browser the report.html test opens the page in.
  - with --peers: python3-torch (Debian's PyTorch, CPU), the bench's PyTorch peer, and libopenblas0-pthread
    (its matrix products; without it Debian's torch runs netlib's reference BLAS).
TXT
  exit 1
}

command -v apt-get >/dev/null 2>&1 || manual_help "no apt-get"
[ "$(id -u)" = 0 ] || manual_help "not root"

. /etc/os-release
codename="${VERSION_CODENAME:-}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [[ " ${need_apt[*]} " == *" vulkan "* ]]; then
  mesa_version=$(apt-cache policy mesa-vulkan-drivers | awk '/Candidate:/ {print $2}')
  mesa_major=${mesa_version%%.*}; mesa_major=${mesa_major#*:}
  if [ "${codename}" = bookworm ] && { [ -z "$mesa_major" ] || [ "$mesa_major" -lt 24 ] 2>/dev/null; }; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      say "adding the bookworm-backports suite (Mesa 22 lavapipe is refused by Dawn)"
      cat > /etc/apt/sources.list.d/saln-backports.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
      apt-get update -qq
    fi
    say "installing mesa-vulkan-drivers libvulkan1 from bookworm-backports"
    apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    say "installing mesa-vulkan-drivers libvulkan1 (${mesa_version:-unknown})"
    apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
  fi
fi
if [[ " ${need_apt[*]} " == *" fonts "* ]]; then
  say "installing fonts-dejavu-core (text of the PNG charts)"
  apt-get install -y -qq fonts-dejavu-core >/dev/null
fi
if [[ " ${need_apt[*]} " == *" torch "* ]]; then
  say "installing python3-torch (the bench's PyTorch peer; large)"
  apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
  /usr/bin/python3 -c 'import torch' || { echo "[setup] python3-torch installed but 'import torch' fails in /usr/bin/python3" >&2; exit 1; }
fi
if [[ " ${need_apt[*]} " == *" openblas "* ]]; then
  say "installing libopenblas0-pthread (the BLAS behind the PyTorch peer's matrix products)"
  apt-get install -y -qq --no-install-recommends libopenblas0-pthread >/dev/null
fi
if [[ " ${need_apt[*]} " == *" chromium "* ]]; then
  say "installing chromium (the headless browser of the report.html test)"
  apt-get install -y -qq chromium >/dev/null
fi
if [[ " ${need_apt[*]} " == *" fashion-mnist "* ]]; then
  say "installing dataset-fashion-mnist"
  apt-get install -y -qq dataset-fashion-mnist >/dev/null || say "dataset-fashion-mnist not available from apt; later 'saln data download fashion-mnist' fetches it"
fi

if adapter_ok; then
  say "a WebGPU adapter is available: $(node scripts/probe-adapter.mjs 2>/dev/null)"
else
  echo "[setup] still no WebGPU adapter after installing the Vulkan driver: $(node scripts/probe-adapter.mjs 2>&1 | tail -1)" >&2
  exit 1
fi
