// The flags of `npm run bench` / `saln bench`: one table for every suite, so that several suites run in one
// command; each flag names the suites that read it, and a flag no selected suite reads is an error.
import { parse } from '../src/util/args.ts';
import { UsageError } from '../src/util/errors.ts';

export const SUITES = ['matmul', 'conv', 'bn', 'step', 'select', 'data'] as const;
export type SuiteName = (typeof SUITES)[number];

const ALL = [...SUITES];

export const OPTIONS = {
  json: { type: 'boolean', suites: ALL },
  out: { type: 'string', suites: ALL },
  runs: { type: 'string', suites: ALL },
  peers: { type: 'boolean', suites: ['matmul', 'conv', 'step'] },
  'peers-imagenet': { type: 'boolean', suites: ['step'] },
  shapes: { type: 'string', suites: ['matmul'] },
  variants: { type: 'string', suites: ['matmul'] },
  batch: { type: 'string', suites: ['conv', 'bn', 'step', 'data'] },
  stem: { type: 'string', suites: ['conv', 'bn', 'step'] },
  layers: { type: 'string', suites: ['conv'] },
  size: { type: 'string', suites: ['step'] },
  width: { type: 'string', suites: ['step'] },
  profile: { type: 'boolean', suites: ['step'] },
  'jacobi-runs': { type: 'string', suites: ['select'] },
  sizes: { type: 'string', suites: ['select'] },
  features: { type: 'string', suites: ['select'] },
  data: { type: 'string', suites: ['select'] },
  affinity: { type: 'string', suites: ['select'] },
  laplacian: { type: 'string', suites: ['select'] },
  keep: { type: 'string', suites: ['select'] },
  jpegs: { type: 'string', suites: ['data'] },
} as const satisfies Record<string, { type: 'string' | 'boolean'; suites: readonly SuiteName[] }>;

export type OptionName = keyof typeof OPTIONS;
export type BenchValues = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string } & { adapter?: string; help?: boolean };

export const USAGE = `usage: npm run bench -- [suite ...] [options]      (also: saln bench [suite ...] [options])
suites (default: all, in this order):
  matmul  GFLOP/s of every matmul design at 256^3, 1024^3, 2048^3, 4096x64x576, 1024x512x4608
          --shapes MxNxK,...  --variants a,b
  conv    forward, input- and weight-gradient GFLOP/s of each distinct ResNet-18 conv (CIFAR stem at 32x32,
          ImageNet stem at 224x224), then the conv layer 32x32x64 -> 3x3x64x64, stride 1, same padding:
          forward, and forward + both gradients       --batch 32  --stem cifar,imagenet  --layers SUBSTRING
  bn      batch-norm train forward + backward and ReLU forward / backward on ResNet-18's activation shapes, GB/s
          of compulsory traffic (each tensor read or written once)   --batch N  --stem cifar,imagenet
  step    a full ResNet-18 training step (forward, backward, SGD): CIFAR stem 32x32 batch 32 and ImageNet stem
          224x224 batch 16, images/s and s/step   --stem  --batch N  --size N  --width 1  --profile
  select  SALN selection time for B = 64..512, GPU Lanczos against CPU Jacobi
          --sizes 64,128,256,512  --features 512  --jacobi-runs 5  --data clustered|gaussian
          --affinity clip|shift|exp  --laplacian unnormalized|normalized  --keep 0.5
  data    loader throughput (images/s) against the step it feeds   --batch 64  --jpegs 60
options:
  --runs N          timed runs per figure after one warm-up (default 5); the median is shown with [min .. max]
  --json            one JSON record per figure on stdout (suite, case, engine, unit, median, min, max, ratio)
  --out FILE        also write the records to FILE as a JSON array
  --peers           TensorFlow.js 4.22 (WebGPU backend on the same adapter, WASM backend) and PyTorch CPU on the
                    same shapes: matmul 1024^3 (or --shapes), the conv layer, the CIFAR-stem training step (and
                    PyTorch's ImageNet-stem step); ratio = ours/peer speed (TF.js: the dev dependencies, npm install
                    in the package; PyTorch: /usr/bin/python3 with torch, npm run setup -- --peers)
  --peers-imagenet  --peers, and the TF.js peers' ImageNet-stem step too (minutes per step)
  --adapter NAME    the WebGPU adapter whose name contains NAME (also SALN_ADAPTER); the peers use it too
  -h, --help        this text
`;

export interface BenchArgs {
  suites: SuiteName[];
  values: BenchValues;
  runs: number;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const table = Object.fromEntries(Object.entries(OPTIONS).map(([name, o]) => [name, { type: o.type }])) as Record<OptionName, { type: 'string' | 'boolean' }>;
  const { values, positionals } = parse('bench', argv, table, true);
  const suites: SuiteName[] = [];
  for (const name of positionals) {
    if (!(SUITES as readonly string[]).includes(name)) throw new UsageError(`bench: unknown suite '${name}'; one of ${SUITES.join(', ')}`);
    if (!suites.includes(name as SuiteName)) suites.push(name as SuiteName);
  }
  const selected = suites.length > 0 ? SUITES.filter((s) => suites.includes(s)) : [...SUITES];
  for (const name of Object.keys(values) as (OptionName | 'adapter' | 'help')[]) {
    if (name === 'adapter' || name === 'help') continue;
    const readers: readonly SuiteName[] = OPTIONS[name].suites;
    if (!readers.some((s) => selected.includes(s))) {
      throw new UsageError(`bench: --${name} is read by ${readers.join(', ')}, none of which is selected (${selected.join(', ')})`);
    }
  }
  const runs = positiveInt('runs', values.runs as string | undefined, 5);
  return { suites: selected, values: values as BenchValues, runs };
}

/** A positive integer flag, or its default when absent. */
export function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!(Number.isInteger(v) && v > 0)) throw new UsageError(`bench: --${flag} must be a positive integer, got '${text}'`);
  return v;
}

/** A comma-separated list whose items must come from `allowed`. */
export function listOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').filter(Boolean);
  for (const item of items) if (!allowed.includes(item as T)) throw new UsageError(`bench: --${flag} takes ${allowed.join(', ')}, got '${item}'`);
  return items as T[];
}
