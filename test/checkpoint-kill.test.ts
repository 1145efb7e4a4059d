// A process killed (SIGKILL) at random points while it saves checkpoints: afterwards the checkpoint in the
// directory always loads, both files are one state, and it is the last one reported saved or the one that
// was being committed. SALN_KILLS sets the number of kills (npm run test:long: 50).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readCheckpoint } from '../src/train/checkpoint.ts';
import { CpuRandom } from '../src/rng.ts';
import { removeTempDirs, tempDir } from './saln-cli.ts';

const WRITER = fileURLToPath(new URL('./fixtures/checkpoint-writer.ts', import.meta.url));
const KILLS = Number(process.env.SALN_KILLS ?? 20);

/** Runs the writer until it reports `saves` more checkpoints, then kills it after a random delay. */
function killWhileSaving(dir: string, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(1 << 19)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lastSaved = -1, stderr = '', armed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString().matchAll(/saved (\d+)/g)) lastSaved = Number(m[1]);
      // The first save proves the process is past start-up; the kill lands somewhere in the saves after it.
      if (!armed && lastSaved >= 0) { armed = true; setTimeout(() => child.kill('SIGKILL'), delayMs); }
    });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(lastSaved) : reject(new Error(`writer exited with ${code}: ${stderr}`))));
  });
}

test(`${KILLS} kills at random points of a checkpoint write leave a loadable, consistent checkpoint`, async () => {
  const dir = tempDir('saln-kill-');
  const random = new CpuRandom(7, 0);
  let previous = 0;
  // Where the kills landed, from the files left behind: a temp file (mid-write), model.safetensors.next
  // (between writes, or after the commit point: rolled forward on load), or neither (between saves).
  const landed = { midWrite: 0, beforeRename: 0, between: 0 };
  for (let kill = 0; kill < KILLS; kill++) {
    const reported = await killWhileSaving(dir, random.next() * 60);
    const files = readdirSync(dir);
    if (files.some((f) => f.includes('.tmp-'))) landed.midWrite++;
    else if (files.includes('model.safetensors.next')) landed.beforeRename++;
    else landed.between++;
    const { model, trainer } = readCheckpoint(dir);
    const step = Number(trainer.metadata.step);
    assert.ok(step === reported || step === reported + 1, `kill ${kill}: loaded step ${step}, the writer last reported ${reported}`);
    assert.ok(step >= previous, `kill ${kill}: went back from step ${previous} to ${step}`);
    assert.ok(model.tensors.get('conv1.weight')!.data.every((v) => v === step), `kill ${kill}: model data of another step`);
    assert.ok(model.tensors.get('fc.weight')!.data.every((v) => v === -step));
    assert.ok(trainer.tensors.get('exp_avg')!.data.every((v) => v === step / 2));
    previous = step;
  }
  console.log(`  ${KILLS} kills: ${landed.midWrite} while a file was being written, ${landed.beforeRename} with the model written but not renamed, ${landed.between} between saves`);
  assert.ok(landed.midWrite > 0, 'no kill landed inside a write');
});

test.after(removeTempDirs);
test.run();
