// The loader's directives (src/gpu/shaders.ts): `#generate` lines give the subgroup GEMMs exactly the text the
// committed generated files held before they were folded into a recipe, and `#import` with arguments fills a
// piece's placeholders; both keep every line's origin and fail with the directive's file and line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { ShaderCompileError } from '../src/gpu/errors.ts';
import { formatCompileMessages, loadShader, registerShaderSource } from '../src/gpu/shaders.ts';
import { subgroupGemm } from '../src/gpu/subgroup-gemm.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** The loaded source of WGSL lines registered under `name`. */
const expand = (name: string, lines: string[]) => {
  registerShaderSource(name, lines.join('\n'));
  return loadShader(name);
};

// sha256 of each kernel's unrolled text. Its history: the text of the files committed generated before issue 14;
// then, in issue 13, operands read as read-only storage textures (image loads: 1.1-1.3x on lavapipe), the weight
// gradient's dY^T packed 8 rows side by side and walked 4 patch rows at a time, the 64-row matmul and the forward
// conv taking their blocks in column order, spare subgroups returning before the loop, the 32 x 64 forward
// and weight-gradient convs, the forward reading its OHWI weights as they are (B transposed), and the convs' two-k-step variants. A change here changes what llvmpipe compiles: benchmark it (npm run bench) and
// validate it (saln validate --kernel matmul, --kernel conv) before pinning the new hash.
const PINNED: [string, Parameters<typeof subgroupGemm>[0], string][] = [
  ['matmul_subgroup', { TM: 64, TN: 4, order: 'cols' }, '477972cfdc55486c8302aaadf8e7ca006fed99ed31884e9fcca30269c7aac00e'],
  ['matmul_subgroup', { TM: 32, TN: 4 }, '12218e9f7d95220efaa6bdf4288a7351cbe2a5c2c6515e643023e7620f4ae58f'],
  ['conv_subgroup', { TM: 64, TN: 4, name: 'conv_fwd', aKind: 'patch', order: 'cols' }, 'eefc4ca7348fdf5e45d03a189b10fc99ff9f8efd13cb4bedc90414d1aa02d20e'],
  ['conv_subgroup', { TM: 32, TN: 8, name: 'conv_fwd32x8', aKind: 'patch', order: 'cols' }, 'd97382b7d33eead6264f8ebe9da2310dd931689c5f6aa95db7f30a2424c2ab49'],
  ['conv_subgroup', { TM: 32, TN: 8, name: 'conv_fwdT32x8', aKind: 'patch', bKind: 'denseT', order: 'cols' }, '6f74748efe4ce968a29b58f0249270f2d617a4b51f6ea9ba099577593d53fed9'],
  ['conv_subgroup', { TM: 64, TN: 4, name: 'conv_dw', aKind: 'lanes', bKind: 'patch' }, 'c3bd8aabca3a476ad6e7b99c8f863ce07a170449453ac1fbbf0dcd16b02480f7'],
  ['conv_subgroup', { TM: 64, TN: 4, name: 'conv_dw_row4', aKind: 'lanes', bKind: 'patch4' }, 'bf5fe48799a1ffe82d0e1daa212f090cbf023faa9104cbaba44bde1644d1ff6d'],
  ['conv_subgroup', { TM: 32, TN: 8, name: 'conv_dw32x8', aKind: 'lanes', bKind: 'patch' }, '0c2fdac786e99c45b15c45bc5393367f5f72c5320985fa749a65dfb4662626f2'],
  ['conv_subgroup', { TM: 32, TN: 8, name: 'conv_dw32x8_row4', aKind: 'lanes', bKind: 'patch4' }, '6ed54c848e197dd8274df814943f3cada774643a8244b8af5f40989022a7bef2'],
  ['conv_subgroup', { TM: 32, TN: 8, name: 'conv_fwd32x8_k2', aKind: 'patch', order: 'cols', kSteps: 2 }, '999f3cccbb47e2ed25f53a3a89c63e64ca111bfa057d51450e4803ba1afd99fc'],
  ['conv_subgroup', { TM: 32, TN: 8, name: 'conv_dw32x8_k2', aKind: 'lanes', bKind: 'patch', kSteps: 2 }, '9b933a8cdad456c87bb7bbaad4062eb6f1add46d9f88ec720beb2dff3e480937'],
  ['conv_subgroup', { TM: 32, TN: 8, name: 'conv_dw32x8_row4_k2', aKind: 'lanes', bKind: 'patch4', kSteps: 2 }, 'd9b5b26bd006c29b9fde9c300b4d00f7b905af6bcebbe75380e74094dbbcbe2f'],
];

test('the subgroup GEMMs are unrolled to the pinned text, and the modules carry them', () => {
  for (const [shader, recipe, hash] of PINNED) {
    const text = subgroupGemm(recipe);
    assert.is(sha256(text), hash, `${shader} ${recipe.name ?? `${recipe.TM}x${recipe.TN}`}: the unrolled text changed`);
    const source = loadShader(shader);
    assert.ok(source.text.includes(`\n${text}\n`), `${shader} does not carry the kernel whole`);
  }
  for (const shader of ['matmul_subgroup', 'conv_subgroup']) {
    const source = loadShader(shader);
    assert.not.match(source.text, /^#/m, 'a directive reached the compiler');
    for (const entry of source.entries.values()) assert.is(entry.workgroupOverride, 'WG_LANES');
  }
  assert.equal([...loadShader('matmul_subgroup').entries.keys()].sort(), ['texture_sg32x4', 'texture_sg64x4']);
  assert.equal([...loadShader('conv_subgroup').entries.keys()].sort(), ['conv_dw', 'conv_dw32x8', 'conv_dw32x8_k2', 'conv_dw32x8_row4', 'conv_dw32x8_row4_k2', 'conv_dw_row4', 'conv_fwd', 'conv_fwd32x8', 'conv_fwd32x8_k2', 'conv_fwdT32x8']);
});

test('generated lines keep their origin: the directive and the line within the recipe text', () => {
  const source = expand('generate_origin', ['struct Dims { M: u32 }', '#generate subgroup_gemm(TM=8, TN=4, name=tiny)', 'fn after() {}']);
  const lines = source.text.split('\n');
  const at = lines.findIndex((line) => line.startsWith('fn tiny('));
  assert.equal(source.origins[at], { file: 'generate_origin:2 (#generate subgroup_gemm)', line: 4 });
  assert.equal(source.origins[lines.length - 1], { file: 'generate_origin', line: 3 });
  const message = formatCompileMessages(source, [{ type: 'error', lineNum: at + 1, linePos: 4, message: 'boom' } as GPUCompilationMessage]);
  assert.match(message, /^generate_origin:2 \(#generate subgroup_gemm\):4:4: error: boom\n\s+4 \| fn tiny\(/);
});

test('one piece imported twice with different arguments, one of them empty, gives both sets of entries', () => {
  const entries = [...loadShader('optimizer').entries.keys()].sort();
  for (const name of ['sgd', 'sgd_momentum', 'adamw', 'norm_partial']) {
    assert.ok(entries.includes(name) && entries.includes(`${name}4`), `optimizer lacks ${name} or ${name}4: ${entries.join(', ')}`);
  }
});

test('directive mistakes name the file and line', () => {
  const cases: [string, RegExp][] = [
    ['#generate no_recipe(TM=8)', /bad_0:2: #generate no_recipe: no recipe no_recipe/],
    ['#generate subgroup_gemm(TM=12, TN=4)', /bad_1:2: #generate subgroup_gemm: TM must be a positive multiple of 8/],
    ['#generate subgroup_gemm(TM=8, TN=4, colour=red)', /bad_2:2: #generate subgroup_gemm: unknown argument 'colour'/],
    ['#import tree_sum_lanes(NAME=s, LANES=64)', /bad_3:2: #import tree_sum_lanes: no argument for \$SCRATCH/],
    ['#import tree_sum_lanes(NAME=s, SCRATCH=p, LANES=64, EXTRA=1)', /bad_4:2: #import tree_sum_lanes: the piece has no \$EXTRA/],
    ['#import tree_sum_lanes(NAME s)', /bad_5:2: #import tree_sum_lanes: argument 'NAME s' is not KEY=VALUE/],
    ['#generate subgroup_gemm(TM=8, TN=4, order=diagonal)', /bad_6:2: #generate subgroup_gemm: order must be rows or cols/],
    ['#generate subgroup_gemm(TM=8, TN=4, bKind=lanes)', /bad_7:2: #generate subgroup_gemm: bKind must be dense, patch, patch4, denseT/],
    ['#generate subgroup_gemm(TM=8, TN=4, kSteps=4)', /bad_8:2: #generate subgroup_gemm: kSteps must be 1 or 2, not '4'/],
  ];
  cases.forEach(([line, expected], i) => {
    try {
      expand(`bad_${i}`, ['struct P { n: u32 }', line]);
      assert.unreachable(`${line} was accepted`);
    } catch (e) {
      assert.instance(e, ShaderCompileError);
      assert.match((e as Error).message, expected);
    }
  });
});

test('#import with arguments fills the placeholders, once per distinct argument list, with the piece lines mapped', () => {
  const source = expand('import_args', [
    '#import tree_sum_lanes(NAME=sumA, SCRATCH=scratchA, LANES=32)',
    '#import tree_sum_lanes(SCRATCH=scratchA, NAME=sumA, LANES=32)',
    '#import tree_sum_lanes(NAME=sumB, SCRATCH=scratchB, LANES=128)',
  ]);
  assert.not.match(source.text, /\$/);
  assert.is(source.text.split('\n').filter((line) => line.startsWith('fn sumA(')).length, 1, 'the same arguments in another order import again');
  assert.ok(source.text.includes('var<workgroup> scratchB: array<f32, 128>;'));
  const at = source.text.split('\n').findIndex((line) => line.startsWith('fn sumB('));
  assert.equal(source.origins[at], { file: 'shaders/lib/tree_sum_lanes.wgsl', line: 6 });
  const tree = loadShader('lanczos').text;
  assert.ok(tree.includes('fn treeSum(lid: u32, value: f32)') && tree.includes('var<workgroup> partialWide: array<f32, 256>;'));
});

test.run();
