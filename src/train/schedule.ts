// Learning-rate schedules as pure functions of the optimizer step (0 = the first update), matching PyTorch's
// schedulers stepped once per optimizer step, so recipes and curves carry over from PyTorch unchanged.
import { UsageError } from '../util/errors.ts';

export type LrSchedule = (step: number) => number;

export function constantLr(lr: number): LrSchedule {
  return () => lr;
}

export interface CosineOptions {
  lr: number;
  totalSteps: number;
  warmupSteps?: number;
  /** The warm-up starts at this fraction of lr; 1/3 is PyTorch LinearLR's default start_factor. */
  warmupStartFactor?: number;
  minLr?: number;
}

/**
 * PyTorch's SequentialLR of LinearLR(start_factor, total_iters=W) then CosineAnnealingLR(T_max=total-W,
 * eta_min=minLr). Past totalSteps it stays at minLr (PyTorch's closed form would climb back up).
 */
export function cosineLr({ lr, totalSteps, warmupSteps = 0, warmupStartFactor = 1 / 3, minLr = 0 }: CosineOptions): LrSchedule {
  const cosineSteps = totalSteps - warmupSteps;
  return (step) => {
    if (step < warmupSteps) return lr * (warmupStartFactor + ((1 - warmupStartFactor) * step) / warmupSteps);
    if (cosineSteps <= 0) return minLr;
    const t = Math.min(step - warmupSteps, cosineSteps);
    return minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * t) / cosineSteps))) / 2;
  };
}

export interface StepOptions {
  lr: number;
  stepSize: number;
  /** PyTorch StepLR's default. */
  gamma?: number;
}

/** PyTorch StepLR: lr * gamma^floor(step / stepSize). */
export function stepLr({ lr, stepSize, gamma = 0.1 }: StepOptions): LrSchedule {
  return (step) => lr * gamma ** Math.floor(step / stepSize);
}

export interface OneCycleOptions {
  maxLr: number;
  totalSteps: number;
  pctStart?: number;
  divFactor?: number;
  finalDivFactor?: number;
}

/**
 * PyTorch OneCycleLR with anneal_strategy='cos', three_phase=False: cosine from maxLr/divFactor up to maxLr
 * ending at step pctStart*total-1, then down to maxLr/(divFactor*finalDivFactor) at step total-1 (held
 * after). Momentum cycling, which OneCycleLR also does by default, is the optimizer's business, not here.
 */
export function oneCycleLr({ maxLr, totalSteps, pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4 }: OneCycleOptions): LrSchedule {
  const initialLr = maxLr / divFactor;
  const minLr = initialLr / finalDivFactor;
  // The same float arithmetic as PyTorch, so the phase boundary lands on the same step.
  const phases = [
    { end: pctStart * totalSteps - 1, from: initialLr, to: maxLr },
    { end: totalSteps - 1, from: maxLr, to: minLr },
  ];
  return (step) => {
    let start = 0;
    for (const [i, { end, from, to }] of phases.entries()) {
      if (step <= end || i === phases.length - 1) {
        // A phase of zero length (PyTorch divides by zero there) is at its end value.
        const pct = end > start ? Math.min((step - start) / (end - start), 1) : 1;
        return to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1);
      }
      start = end;
    }
    return minLr;
  };
}

export const SCHEDULE_NAMES = ['constant', 'cosine', 'step', 'onecycle'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

type NumberLike = number | string | undefined;
/** What the command line gives: numbers or their text. `lr` is the peak for cosine and onecycle. */
export interface ScheduleOptions {
  lr: NumberLike;
  totalSteps?: NumberLike;
  warmupSteps?: NumberLike;
  warmupStartFactor?: NumberLike;
  minLr?: NumberLike;
  stepSize?: NumberLike;
  gamma?: NumberLike;
  pctStart?: NumberLike;
  divFactor?: NumberLike;
  finalDivFactor?: NumberLike;
}

/** Builds a schedule from a CLI name and options, with one-line errors that say what is accepted. */
export function makeSchedule(name: string, options: ScheduleOptions): LrSchedule {
  if (!(SCHEDULE_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`unknown LR schedule '${name}'; expected one of ${SCHEDULE_NAMES.join(', ')}`);
  }
  const read = (key: keyof ScheduleOptions, rule: Rule, fallback?: number) => readNumber(name, key, options[key], rule, fallback);
  const lr = read('lr', 'nonNegative');
  switch (name as ScheduleName) {
    case 'constant':
      return constantLr(lr);
    case 'step':
      return stepLr({ lr, stepSize: read('stepSize', 'positiveInteger'), gamma: read('gamma', 'positive', 0.1) });
    case 'cosine': {
      const totalSteps = read('totalSteps', 'positiveInteger');
      const warmupSteps = read('warmupSteps', 'nonNegativeInteger', 0);
      if (warmupSteps >= totalSteps) throw new UsageError(`cosine schedule: warmupSteps (${warmupSteps}) must be less than totalSteps (${totalSteps})`);
      const minLr = read('minLr', 'nonNegative', 0);
      if (minLr > lr) throw new UsageError(`cosine schedule: minLr (${minLr}) must not exceed lr (${lr})`);
      return cosineLr({ lr, totalSteps, warmupSteps, minLr, warmupStartFactor: read('warmupStartFactor', 'fraction', 1 / 3) });
    }
    case 'onecycle':
      return oneCycleLr({
        maxLr: lr,
        totalSteps: read('totalSteps', 'positiveInteger'),
        pctStart: read('pctStart', 'openFraction', 0.3),
        divFactor: read('divFactor', 'positive', 25),
        finalDivFactor: read('finalDivFactor', 'positive', 1e4),
      });
  }
}

type Rule = 'nonNegative' | 'positive' | 'positiveInteger' | 'nonNegativeInteger' | 'fraction' | 'openFraction';
const RULES: Record<Rule, [string, (x: number) => boolean]> = {
  nonNegative: ['a number >= 0', (x) => x >= 0],
  positive: ['a number > 0', (x) => x > 0],
  positiveInteger: ['a positive integer', (x) => Number.isSafeInteger(x) && x > 0],
  nonNegativeInteger: ['an integer >= 0', (x) => Number.isSafeInteger(x) && x >= 0],
  fraction: ['a number in [0, 1]', (x) => x >= 0 && x <= 1],
  openFraction: ['a number strictly between 0 and 1', (x) => x > 0 && x < 1],
};
// Number('') is 0 and Number('0x10') is 16; a flag value is accepted only if it reads as a decimal number.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function readNumber(schedule: string, key: string, raw: NumberLike, rule: Rule, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`${schedule} schedule: ${key} is required`);
    return fallback;
  }
  const value = typeof raw === 'number' ? raw : DECIMAL.test(raw.trim()) ? Number(raw) : NaN;
  const [wanted, accepts] = RULES[rule];
  if (!Number.isFinite(value) || !accepts(value)) throw new UsageError(`${schedule} schedule: ${key} must be ${wanted}, got '${raw}'`);
  return value;
}
