// LR schedules against the closed forms in PyTorch's documentation (LinearLR, CosineAnnealingLR, StepLR,
// OneCycleLR). Expected values are worked out by hand from those formulas, not taken from the code under test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { constantLr, cosineLr, makeSchedule, oneCycleLr, stepLr, type LrSchedule } from '../src/train/schedule.ts';

// Only float rounding separates the implementation from the exact values: a few ulps relative.
function near(schedule: LrSchedule, expected: Record<number, number>) {
  for (const [step, want] of Object.entries(expected)) {
    const got = schedule(Number(step));
    assert.ok(Math.abs(got - want) <= 1e-12 * Math.abs(want) + 1e-18, `step ${step}: got ${got}, expected ${want}`);
  }
}

test('constant', () => near(constantLr(0.05), { 0: 0.05, 1: 0.05, 1e6: 0.05 }));

test('cosine with linear warm-up: LinearLR then CosineAnnealingLR', () => {
  // lr 0.1, 100 steps, 10 of warm-up from 0.1*lr, eta_min 0.001. Warm-up: 0.1 * (0.1 + 0.9 * s/10).
  // Cosine: 0.001 + 0.099 * (1 + cos(pi * (s-10)/90)) / 2; s=40: cos(pi/3) = 1/2 -> 0.001 + 0.099*0.75.
  const schedule = cosineLr({ lr: 0.1, totalSteps: 100, warmupSteps: 10, warmupStartFactor: 0.1, minLr: 0.001 });
  near(schedule, { 0: 0.01, 5: 0.055, 9: 0.091, 10: 0.1, 40: 0.07525, 55: 0.0505, 100: 0.001, 250: 0.001 });
  // s=99: t=89 of 90, 1 + cos(89pi/90) = 1 - cos(pi/90) = 2 sin^2(pi/180).
  near(schedule, { 99: 0.001 + 0.099 * Math.sin(Math.PI / 180) ** 2 });
  // No warm-up starts at lr; eta_min defaults to 0; s=25 of 100: (1 + cos(pi/4)) / 2 = (1 + sqrt(2)/2) / 2.
  near(cosineLr({ lr: 2, totalSteps: 100 }), { 0: 2, 25: 1 + Math.SQRT1_2, 50: 1, 100: 0 });
  // PyTorch LinearLR's default start factor is 1/3.
  near(cosineLr({ lr: 0.3, totalSteps: 10, warmupSteps: 2 }), { 0: 0.1, 1: 0.2, 2: 0.3 });
});

test('step decay: PyTorch StepLR', () => {
  near(stepLr({ lr: 0.1, stepSize: 30 }), { 0: 0.1, 29: 0.1, 30: 0.01, 59: 0.01, 89: 0.001, 90: 0.0001 });
  near(stepLr({ lr: 1, stepSize: 1, gamma: 0.5 }), { 0: 1, 1: 0.5, 3: 0.125 });
});

test('one-cycle: PyTorch OneCycleLR defaults (pct_start 0.3, cos, div 25, final div 1e4, two phases)', () => {
  // max_lr 0.1, 100 steps: initial_lr = 0.1/25 = 0.004, min_lr = 0.004/1e4 = 4e-7. Phase 1 ends at step
  // 0.3*100 - 1 = 29, phase 2 at step 99. anneal(a, b, p) = b + (a - b)/2 * (cos(pi p) + 1).
  const schedule = oneCycleLr({ maxLr: 0.1, totalSteps: 100 });
  near(schedule, {
    0: 0.004,
    10: 0.1 + ((0.004 - 0.1) / 2) * (Math.cos((Math.PI * 10) / 29) + 1),
    29: 0.1,
    // Phase 2 halfway: p = (64 - 29)/(99 - 29) = 1/2, cos = 0 -> (0.1 + 4e-7) / 2.
    64: 0.0500002,
    99: 4e-7,
    120: 4e-7,
  });
  // Other factors: initial 1/10, min 1/10/100 = 0.001, phase 1 ends at 0.5*10 - 1 = 4 (midpoint 2: average).
  near(oneCycleLr({ maxLr: 1, totalSteps: 10, pctStart: 0.5, divFactor: 10, finalDivFactor: 100 }), { 0: 0.1, 2: 0.55, 4: 1, 9: 0.001 });
});

test('makeSchedule parses CLI names and numbers, with one-line errors', () => {
  near(makeSchedule('constant', { lr: '0.5' }), { 7: 0.5 });
  near(makeSchedule('cosine', { lr: '1e-1', totalSteps: '100', warmupSteps: 10, warmupStartFactor: '0.1', minLr: '0.001' }), { 5: 0.055, 40: 0.07525 });
  near(makeSchedule('step', { lr: 0.1, stepSize: '30', gamma: '0.1' }), { 30: 0.01 });
  near(makeSchedule('onecycle', { lr: 0.1, totalSteps: 100 }), { 0: 0.004, 64: 0.0500002 });
  const rejects = (name: string, options: Parameters<typeof makeSchedule>[1], message: string) => {
    try {
      makeSchedule(name, options);
    } catch (e) {
      assert.is((e as Error).name, 'UsageError');
      assert.is((e as Error).message, message);
      return;
    }
    assert.unreachable(`${name} ${JSON.stringify(options)} was accepted`);
  };
  rejects('linear', { lr: 0.1 }, "unknown LR schedule 'linear'; expected one of constant, cosine, step, onecycle");
  rejects('constant', { lr: 'fast' }, "constant schedule: lr must be a number >= 0, got 'fast'");
  rejects('constant', { lr: '' }, "constant schedule: lr must be a number >= 0, got ''");
  rejects('constant', { lr: '0x10' }, "constant schedule: lr must be a number >= 0, got '0x10'");
  rejects('constant', { lr: -1 }, "constant schedule: lr must be a number >= 0, got '-1'");
  rejects('constant', { lr: undefined }, 'constant schedule: lr is required');
  rejects('cosine', { lr: 0.1 }, 'cosine schedule: totalSteps is required');
  rejects('cosine', { lr: 0.1, totalSteps: '1.5' }, "cosine schedule: totalSteps must be a positive integer, got '1.5'");
  rejects('cosine', { lr: 0.1, totalSteps: 10, warmupSteps: 10 }, 'cosine schedule: warmupSteps (10) must be less than totalSteps (10)');
  rejects('cosine', { lr: 0.1, totalSteps: 10, minLr: 0.2 }, 'cosine schedule: minLr (0.2) must not exceed lr (0.1)');
  rejects('cosine', { lr: 0.1, totalSteps: 10, warmupStartFactor: 2 }, "cosine schedule: warmupStartFactor must be a number in [0, 1], got '2'");
  rejects('step', { lr: 0.1, stepSize: 0 }, "step schedule: stepSize must be a positive integer, got '0'");
  rejects('step', { lr: 0.1, stepSize: 5, gamma: 'NaN' }, "step schedule: gamma must be a number > 0, got 'NaN'");
  rejects('onecycle', { lr: 0.1, totalSteps: 100, pctStart: 1 }, "onecycle schedule: pctStart must be a number strictly between 0 and 1, got '1'");
});

test.run();
