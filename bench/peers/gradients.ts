// @tensorflow/tfjs-core's Node build (its package "main") leaves the gradient registrations out: they live in
// dist/register_all_gradients.js, an ES module tree with extension-less imports that Node cannot load. The
// @tensorflow/tfjs union package bundles them in; with tfjs-core alone we do the same: esbuild (already here for
// tsx) bundles that file once into CommonJS, cached in node_modules/.cache. The copy of core inside the bundle
// registers into TF.js's process-wide registries (kept on the global object precisely so that several copies
// share them), and its gradient functions run on the one global engine.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../../src/util/atomic.ts';

export async function registerTfjsGradients(tf: typeof TF): Promise<void> {
  if (tf.getGradient('Conv2D')) return;
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const packageDir = dirname(require.resolve('@tensorflow/tfjs-core/package.json'));
  const bundle = join(packageDir, '..', '..', '.cache', 'saln-bench', `tfjs-core-${tf.version_core}-gradients.cjs`);
  if (!existsSync(bundle)) {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({ entryPoints: [entry], bundle: true, format: 'cjs', platform: 'node', write: false, logLevel: 'silent' });
    writeFileAtomic(bundle, result.outputFiles[0].contents);
  }
  require(bundle);
  if (!tf.getGradient('Conv2D')) throw new Error(`the TF.js gradient bundle ${bundle} registered nothing`);
}
