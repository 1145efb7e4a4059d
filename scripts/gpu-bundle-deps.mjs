#!/usr/bin/env node
// Which files of node_modules a bare linux-x64 machine needs to run dist/ (scripts/gpu-bundle.sh packs them):
// the production dependencies, walked from package.json the way Node resolves them, without the ones only the
// TypeScript sources need, and without other platforms' prebuilt binaries (the bundle must stay under 64 MiB).
// `node scripts/gpu-bundle-deps.mjs [ROOT]` prints one path per line, relative to ROOT.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Production dependencies that dist/ never loads: tsx runs the .ts sources (bin/saln.mjs), @webgpu/types is types (as is @types/*). */
export const NOT_AT_RUNTIME = new Set(['tsx', '@webgpu/types']);

/** Prebuilt binaries per platform inside one package: keep only the target's folder. */
export const PLATFORM_DIRS = { webgpu: { under: 'dist', keep: 'linux-x64' } };

const TARGET = { os: 'linux', cpu: 'x64' };

/** Whether a package.json's os/cpu fields (npm's own filter for optional binaries) admit the target; musl builds do not run on glibc. */
export function runsOnTarget(pkg) {
  const admits = (list, value) => !Array.isArray(list) || list.length === 0
    || (list.some((v) => v === value) || (list.every((v) => v.startsWith('!')) && !list.includes(`!${value}`)));
  return admits(pkg.os, TARGET.os) && admits(pkg.cpu, TARGET.cpu) && !/musl/.test(pkg.name ?? '') && !(pkg.libc ?? []).includes('musl');
}

/** The directory Node would load `name` from when required from `fromDir`, or null. */
function resolvePackage(root, fromDir, name) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dirname(dir) === dir) return null;
  }
}

/** Package directories (relative to root) needed at runtime, sorted. A missing required dependency throws. */
export function runtimePackages(root) {
  const top = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const found = new Set();
  const queue = Object.keys(top.dependencies ?? {}).map((name) => ({ name, from: root, optional: false }));
  while (queue.length > 0) {
    const { name, from, optional } = queue.shift();
    if (NOT_AT_RUNTIME.has(name) || name.startsWith('@types/')) continue; // declarations only, wherever listed
    const dir = resolvePackage(root, from, name);
    if (!dir) {
      if (optional) continue; // npm installs only the optional binaries of this machine's platform
      throw new Error(`${name} (needed by ${relative(root, from) || 'package.json'}) is not installed: run npm ci`);
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (optional && !runsOnTarget(pkg)) continue;
    const rel = relative(root, dir);
    if (found.has(rel)) continue;
    found.add(rel);
    for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: dir, optional: false });
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, optional: true });
  }
  return [...found].sort();
}

/** Every file to pack for those packages: other platforms' binary folders and nested node_modules are left out. */
export function runtimeFiles(root) {
  const packages = runtimePackages(root);
  const files = [];
  const walk = (dir, skip) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, entry.name);
      if (skip(rel, entry)) continue;
      if (entry.isDirectory()) walk(rel, skip);
      else if (entry.isFile()) files.push(rel);
    }
  };
  for (const pkg of packages) {
    const name = pkg.replace(/^.*node_modules\//, '');
    const platform = PLATFORM_DIRS[name];
    walk(pkg, (rel, entry) => {
      // Nested packages are listed on their own when they are needed.
      if (entry.isDirectory() && entry.name === 'node_modules') return true;
      return Boolean(platform && entry.isDirectory() && dirname(rel) === join(pkg, platform.under) && entry.name !== platform.keep);
    });
  }
  return files.sort();
}

/** Total bytes of files relative to root. */
export function totalBytes(root, files) {
  return files.reduce((t, f) => t + statSync(join(root, f)).size, 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
  try {
    process.stdout.write(`${runtimeFiles(root).join('\n')}\n`);
  } catch (e) {
    process.stderr.write(`gpu-bundle-deps: ${e.message}\n`);
    process.exit(1);
  }
}
