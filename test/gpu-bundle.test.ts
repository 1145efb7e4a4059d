// The GPU check bundle's parts that can be checked in seconds (building it takes minutes: Node through xz):
// which node_modules files it packs, the dist/ entry, and the runner's refusals before it unpacks anything.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error a plain .mjs script without declarations
import { runsOnTarget, runtimeFiles, runtimePackages, totalBytes } from '../scripts/gpu-bundle-deps.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the bundle packs the runtime dependencies for linux-x64 only, and no TypeScript tooling', () => {
  const packages: string[] = runtimePackages(root);
  for (const needed of ['node_modules/webgpu', 'node_modules/wgsl_reflect', 'node_modules/vega', 'node_modules/@resvg/resvg-js']) assert.ok(packages.includes(needed), needed);
  for (const p of packages) assert.not.match(p, /node_modules\/(tsx|esbuild|@esbuild\/|typescript|uvu|@tensorflow\/|@types\/|@webgpu\/types)/, p);
  const files: string[] = runtimeFiles(root);
  const dawn = files.filter((f) => f.startsWith('node_modules/webgpu/dist/'));
  assert.equal(dawn, ['node_modules/webgpu/dist/linux-x64/dawn.node']);
  // Uncompressed; the compressed bundle (Node included) must stay under 64 MiB, and other platforms' Dawn
  // builds alone would add over 100 MiB.
  assert.ok(totalBytes(root, files) < 56 * 2 ** 20, `${totalBytes(root, files)} bytes`);
});

test("optional binaries: npm's os/cpu fields decide, musl builds are left out", () => {
  assert.ok(runsOnTarget({ name: 'a' }));
  assert.ok(runsOnTarget({ name: '@resvg/resvg-js-linux-x64-gnu', os: ['linux'], cpu: ['x64'] }));
  assert.not.ok(runsOnTarget({ name: '@resvg/resvg-js-darwin-arm64', os: ['darwin'], cpu: ['arm64'] }));
  assert.not.ok(runsOnTarget({ name: '@resvg/resvg-js-linux-arm64-gnu', os: ['linux'], cpu: ['arm64'] }));
  assert.not.ok(runsOnTarget({ name: '@resvg/resvg-js-linux-x64-musl', os: ['linux'], cpu: ['x64'] }));
  assert.ok(runsOnTarget({ name: 'b', os: ['!win32'] }));
  assert.not.ok(runsOnTarget({ name: 'c', os: ['!linux'] }));
});

test('bin/saln-dist.mjs runs the command from dist/ (no tsx)', () => {
  const r = spawnSync(process.execPath, [join(root, 'bin/saln-dist.mjs'), '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^saln: /);
});

test('the runner: usage is exit 2, and a bundle that does not match its MANIFEST stops before unpacking', () => {
  const dir = mkdtempSync(join(tmpdir(), 'saln-gpu-check-test-'));
  try {
    copyFileSync(join(root, 'scripts/gpu-check.sh'), join(dir, 'gpu-check.sh'));
    const usage = spawnSync('bash', [join(dir, 'gpu-check.sh')], { encoding: 'utf8' });
    assert.is(usage.status, 2);
    assert.is(usage.stderr.trim(), 'usage: gpu-check.sh RESULTS_DIR [--allow-software] [--quick]');
    writeFileSync(join(dir, 'node.xz'), 'truncated');
    writeFileSync(join(dir, 'MANIFEST'), `# test\n${'0'.repeat(64)} 9 node.xz\n`);
    const bad = spawnSync('bash', [join(dir, 'gpu-check.sh'), join(dir, 'results')], { encoding: 'utf8' });
    assert.is(bad.status, 1);
    assert.match(bad.stderr.trim(), /^gpu-check: the bundle in .* does not match its MANIFEST \(copied incompletely\?\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
