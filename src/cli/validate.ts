// `saln validate`: every kernel against its float64 CPU reference, on the adapter in use.
import { parse, UsageError } from '../util/args.ts';
import { getRuntime } from '../gpu/runtime.ts';
import { allCases, type CaseResult } from '../validate/cases.ts';
import { availableMatmulVariants } from '../ops/matmul.ts';

const HELP = `usage: saln validate [--json] [--kernel PREFIX] [--verbose] [--adapter NAME]

Runs each kernel's validation cases (several shapes, edge sizes included) and compares them with the float64
CPU reference: |got - ref| <= atol + rtol * |ref| per element, with each kernel's stated tolerance. Prints one
row per kernel (cases, max abs error, max rel error, pass); exits 1 when any case fails.
  --json           one JSON object per kernel, then a summary object
  --kernel PREFIX  only kernels whose name starts with PREFIX (e.g. matmul, matmul.texture, reduce)
  --verbose        one row per case instead of per kernel
`;

interface KernelSummary { kernel: string; cases: number; failed: number; maxAbs: number; maxRel: number; pass: boolean; failures: string[] }

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('validate', argv, { json: { type: 'boolean' }, kernel: { type: 'string' }, verbose: { type: 'boolean' } });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const wanted = (c: { kernel: string }) => !values.kernel || c.kernel.startsWith(values.kernel);
  // Checked against every kernel before the device is opened: a typo costs nothing.
  if (!allCases().some(wanted)) throw new UsageError(`validate: no kernel starts with '${values.kernel}'`);
  const rt = await getRuntime({ adapter: values.adapter });
  const cases = allCases({ variants: availableMatmulVariants(rt) }).filter(wanted);
  if (cases.length === 0) throw new UsageError(`validate: the kernels starting with '${values.kernel}' are not available on this adapter`);
  const summaries = new Map<string, KernelSummary>();
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (!values.json) out(`adapter: ${rt.ctx.info.description || rt.ctx.info.device}`);
  if (!values.json) out(`${'kernel'.padEnd(24)} ${'cases'.padStart(5)} ${'max abs err'.padStart(12)} ${'max rel err'.padStart(12)}  pass`);
  for (const c of cases) {
    let result: CaseResult;
    try {
      result = await c.run(rt);
    } catch (e) {
      result = { kernel: c.kernel, name: c.name, tolerance: { atol: 0, rtol: 0 }, maxAbs: Infinity, maxRel: Infinity, worst: -1, pass: false, count: 0 };
      (result as CaseResult & { error?: string }).error = (e as Error).message;
    }
    let s = summaries.get(c.kernel);
    if (!s) summaries.set(c.kernel, (s = { kernel: c.kernel, cases: 0, failed: 0, maxAbs: 0, maxRel: 0, pass: true, failures: [] }));
    s.cases++;
    s.maxAbs = Math.max(s.maxAbs, result.maxAbs);
    s.maxRel = Math.max(s.maxRel, result.maxRel);
    if (!result.pass) {
      s.failed++;
      s.pass = false;
      const error = (result as CaseResult & { error?: string }).error;
      s.failures.push(`${c.name}: ${error ?? `max abs ${result.maxAbs.toExponential(2)} over atol ${result.tolerance.atol.toExponential(2)} + rtol ${result.tolerance.rtol.toExponential(2)}`}`);
    }
    if (values.verbose && !values.json) out(`${c.kernel.padEnd(24)} ${c.name.padEnd(34)} ${result.maxAbs.toExponential(2).padStart(10)} ${result.pass ? 'ok' : 'FAIL'}`);
  }
  let failed = 0;
  for (const s of summaries.values()) {
    if (!s.pass) failed++;
    if (values.json) { out(JSON.stringify(s)); continue; }
    out(`${s.kernel.padEnd(24)} ${String(s.cases).padStart(5)} ${s.maxAbs.toExponential(2).padStart(12)} ${s.maxRel.toExponential(2).padStart(12)}  ${s.pass ? 'yes' : `NO (${s.failed} failed)`}`);
    for (const f of s.failures.slice(0, 3)) out(`    ${f}`);
  }
  const total = { adapter: rt.ctx.info.description || rt.ctx.info.device, kernels: summaries.size, cases: cases.length, failedKernels: failed, pass: failed === 0 };
  if (values.json) out(JSON.stringify({ summary: total }));
  else out(`${total.kernels} kernels, ${total.cases} cases: ${failed === 0 ? 'all pass' : `${failed} kernels FAIL`}`);
  return failed === 0 ? 0 : 1;
}
