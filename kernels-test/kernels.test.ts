// Every kernel against its float64 CPU reference: the same cases `saln validate` runs, one test per kernel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getRuntime } from '../src/gpu/runtime.ts';
import { allCases, type ValidationCase } from '../src/validate/cases.ts';
import { availableMatmulVariants } from '../src/ops/matmul.ts';

const byKernel = new Map<string, ValidationCase[]>();
for (const c of allCases({ variants: availableMatmulVariants(await getRuntime()) })) {
  if (!byKernel.has(c.kernel)) byKernel.set(c.kernel, []);
  byKernel.get(c.kernel)!.push(c);
}

for (const [kernel, cases] of byKernel) {
  test(`${kernel} matches its reference on ${cases.length} cases`, async () => {
    assert.ok(cases.length >= 5, `${kernel} has only ${cases.length} cases; at least 5 shapes are required`);
    const rt = await getRuntime();
    const failures: string[] = [];
    for (const c of cases) {
      const r = await c.run(rt);
      if (!r.pass) failures.push(`${c.name}: max abs ${r.maxAbs} (atol ${r.tolerance.atol}, rtol ${r.tolerance.rtol}), worst index ${r.worst}`);
    }
    assert.equal(failures, [], `${kernel} failed:\n${failures.join('\n')}`);
  });
}

test.run();
