#!/usr/bin/env bash
# Packs the GPU check for a bare x86-64 Linux machine with an NVIDIA GPU and no network: the Node binary (xz),
# dist/ built from this checkout, shaders/, the production dependencies for linux-x64 only, the PyTorch peer
# script, the Vulkan loader as .deb files, and the runner (scripts/gpu-check.sh), under 64 MiB in all.
#   scripts/gpu-bundle.sh [OUT_DIR]      (default out/gpu-check; copy that folder over, run OUT_DIR/gpu-check.sh RESULTS)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-out/gpu-check}
limit=$((64 * 1024 * 1024))
# The loader, and the glvnd libraries NVIDIA's Vulkan driver (libGLX_nvidia) links against: the set the device
# notes (/work/.library/device/README.md) found enough for Vulkan there. Their Mesa dependencies are left out.
debs=(libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2)
# Downloads and the compressed Node binary are kept between builds (xz -6 of Node takes minutes on 2 cores).
cache=${SALN_BUNDLE_CACHE:-out/gpu-check-cache}

say() { printf '[gpu-bundle] %s\n' "$*"; }
fail() { printf 'gpu-bundle: %s\n' "$*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || fail "run this on x86-64: the bundle carries this machine's Node binary"
node_bin=$(command -v node) || fail "node is not on PATH"
# A bundle folder is rebuilt in place; anything else of that name is left alone.
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -f "$out/MANIFEST" ]; then fail "$out exists and is not a bundle (no MANIFEST): choose another OUT_DIR"; fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/saln-gpu-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
app=$stage/app
mkdir -p "$app/bin" "$app/bench/peers"

# dist/ compiled into the stage, not into the checkout's dist/ that other commands may be using meanwhile.
say "compiling dist/"
npx tsc -p tsconfig.build.json --outDir "$app/dist" --declaration false --declarationMap false --sourceMap false \
  || fail "the TypeScript build failed (npx tsc -p tsconfig.build.json)"
cp package.json "$app/"   # "type": "module" for dist/*.js, and the package root datasets/catalog.ts looks for
cp bin/saln-dist.mjs "$app/bin/"
cp -r shaders "$app/"
cp bench/peers/pytorch_peer.py bench/peers/pytorch_resnet.py "$app/bench/peers/"

say "copying the production dependencies (linux-x64)"
node scripts/gpu-bundle-deps.mjs "$root" > "$stage/deps.txt" || fail "listing the production dependencies failed"
tar -cf - -T "$stage/deps.txt" | tar -C "$app" -xf -

say "fetching the Vulkan loader packages (${debs[*]})"
mkdir -p "$cache"
missing=()
for p in "${debs[@]}"; do compgen -G "$cache/${p}_*_amd64.deb" >/dev/null || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  # apt warns that it downloads as root rather than as _apt: expected here, and not worth a line.
  (cd "$cache" && apt-get download -oAPT::Architecture=amd64 "${missing[@]}" 2>&1 >/dev/null | { grep -v 'unsandboxed' >&2 || true; }) \
    || fail "apt-get download ${missing[*]} failed (run apt-get update, or put the .deb files in $cache)"
fi

say "compressing (xz)"
rm -rf "$out" && mkdir -p "$out/debs"
for p in "${debs[@]}"; do cp "$(ls "$cache/${p}"_*_amd64.deb | sort -V | tail -1)" "$out/debs/"; done
node_xz=$cache/node-$("$node_bin" --version)-$(sha256sum "$node_bin" | cut -c1-12).xz
[ -f "$node_xz" ] || { xz -6 -T0 -c "$node_bin" > "$node_xz.tmp" && mv "$node_xz.tmp" "$node_xz"; }
cp "$node_xz" "$out/node.xz"
tar -C "$stage" -cf - app | xz -6 -T0 > "$out/app.tar.xz"
cp scripts/gpu-check.sh "$out/gpu-check.sh"
chmod +x "$out/gpu-check.sh"

# The manifest lists every file with its size and SHA-256, so the runner can tell a truncated copy from a good one.
{
  echo "# saln GPU check bundle: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src shaders bench datasets 2>/dev/null || echo ' + uncommitted changes'), node $("$node_bin" --version), built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  (cd "$out" && find . -type f ! -name MANIFEST | sed 's|^\./||' | sort | while read -r f; do
    printf '%s %s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
  done)
} > "$out/MANIFEST"
total=$(find "$out" -type f -printf '%s\n' | awk '{t += $1} END {print t}')
[ "$total" -le "$limit" ] || fail "the bundle is $((total / 1048576)) MiB, over the 64 MiB limit"
say "$out: $(awk -v t="$total" 'BEGIN {printf "%.1f MiB", t / 1048576}') ($(grep -vc '^#' "$out/MANIFEST") files); run: $out/gpu-check.sh RESULTS_DIR"
