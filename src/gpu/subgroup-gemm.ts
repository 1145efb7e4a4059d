// The unrolled bodies of the subgroup texel GEMMs (shaders/matmul_subgroup.wgsl, shaders/conv_subgroup.wgsl),
// written by the shader loader where a `#generate subgroup_gemm(...)` line stands. They are unrolled here, by
// rules, because WGSL has no const-sized register arrays that llvmpipe keeps in registers: a 64 x 4 tile is 64
// accumulators and 256 FMAs per k step spelled out one by one.
//
// Why at load time, not a committed generated .wgsl: the kernels (matmul 64x4 and 32x4, conv forward, the two
// weight gradients) are one recipe with different tile sizes, operand readers and block orders. Committed, their
// unrolled text stood once per kernel (some 400 lines alike), beside the generator that wrote it and a test that
// kept the two in step. Now the .wgsl files keep only what is written by hand (the header: bindings, uniforms, the
// conv patch walkers) and name each kernel's recipe; test/shader-directives.test.ts pins the text the compiler
// gets.
//
// The operands are read-only storage textures, not sampled ones: on lavapipe a sampled texel fetch calls a
// function that looks up the mip level of every lane (eight scalar loads for the row pitch, eight for the level
// offset, per-lane bounds) before its eight 16-byte loads, about 200 instructions; an image load has no levels.
// Measured paired on a 1024^3 matmul, 21 alternating rounds: 1.12-1.17x (the sampled path with a nearest sampler
// was 1.11-1.25x, with float coordinates and a sampler binding to carry).

const SG = 8;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * How an operand is read:
 * - 'dense': from a packed texture, row-major (logical texel (k4, row) at (k4, row));
 * - 'lanes' (A only): packed with each 8 consecutive rows side by side, texel (k4, row) at (k4 * 8 + row % 8,
 *   row / 8), so that a subgroup's 8 lanes, which read rows r..r+7 at one k, load 8 adjacent texels (2 cache
 *   lines) instead of 8 texels in 8 rows of the texture;
 * - 'patch': convolution patches straight from the padded input texture (implicit im2col): A = patches in the
 *   forward pass, B = patches in the weight gradient;
 * - 'patch4' (B only): patches when every 4 consecutive patch rows from a multiple of 4 share an output row (Wo a
 *   multiple of 4), so the row walker moves once per 4 rows and the 4 loads are a fixed stride apart;
 * - 'denseT' (B only): B stored transposed, texel (k4, col) holding B[4k4..4k4+3, col] (the forward conv's OHWI
 *   weights as they are, so they reach the texture by a copy); a lane loads one texel per column and takes dot
 *   products, the same loads and multiply-adds per k step as 'dense'.
 */
export type OperandKind = 'dense' | 'lanes' | 'patch' | 'patch4' | 'denseT';

export interface SubgroupGemm {
  /** Rows per subgroup (a multiple of 8) and columns per lane (a multiple of 4). */
  TM: number;
  TN: number;
  name?: string;
  aKind?: OperandKind;
  bKind?: OperandKind;
  /**
   * How a subgroup's block index maps to output blocks: 'rows' (row-major: a workgroup's 8 subgroups take
   * neighbouring column blocks of one row block) or 'cols' (column-major: neighbouring row blocks of one column
   * block). lavapipe runs a workgroup's subgroups one after another on one thread, so in column order they read
   * the same K x 32 strip of B, from cache after the first; that pays where B is large (a deep layer's weights:
   * 4608 x 32 floats, 590 KB, at 4x4x512) and is neutral elsewhere.
   */
  order?: BlockOrder;
  /**
   * k steps (of 4) per loop iteration: 1, or 2 where Kp is a multiple of 8. gallivm gives every loop an execution
   * mask and blends each accumulator with it once per iteration; two steps halve those blends, at the price of
   * twice the operands live. Which wins depends on the CPU (on an Intel Xeon the input and weight gradients ran
   * 7-12% faster with 2, on an AMD EPYC the forward 13-41% slower), so `saln tune` measures it per machine.
   */
  kSteps?: 1 | 2;
}

export type BlockOrder = 'rows' | 'cols';

/** The WGSL of one subgroup GEMM entry point (no trailing newline). */
export function subgroupGemm({ TM, TN, name = `texture_sg${TM}x${TN}`, aKind = 'dense', bKind = 'dense', order = 'rows', kSteps = 1 }: SubgroupGemm): string {
  const nv = TN / 4, na = TM / SG;
  const L: string[] = [];
  L.push(`// ${TM} rows x ${SG * TN} columns per subgroup; Mp multiple of ${TM}, Np multiple of ${SG * TN}${kSteps === 2 ? ', Kp of 8' : ''}.`);
  L.push(`// tilesM = Mp/${TM}, tilesN = Np/${SG * TN}; dispatch ceil(tilesM*tilesN/(WG_LANES/8)) workgroups (folded into x, y), batch in z.`);
  L.push(`@compute @workgroup_size(WG_LANES)`);
  L.push(`fn ${name}(@builtin(local_invocation_index) lidx: u32, @builtin(workgroup_id) wid: vec3<u32>,`);
  L.push(`    @builtin(num_workgroups) groups: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {`);
  L.push(`  let g = (wid.x + wid.y * groups.x) * (WG_LANES / ${SG}u) + lidx / ${SG}u;   // this subgroup's block`);
  // A spare subgroup (its block index past the last block, in the grid's last workgroup) returns before the loop.
  // The modules turn off the subgroup_uniformity diagnostic for it: the analysis cannot see that the block index,
  // lidx / 8, is the same for a subgroup's 8 lanes, which these kernels already rely on (a lane's rows and columns
  // come from `lane`, its block from lidx / 8). Recomputing the last block instead, as before, cost up to a third
  // of a dispatch: 18 blocks in 24 slots for the 32x32x64 weight gradient (its kernel time 1.62 -> 1.20 times the
  // forward's, paired). The clamp after the test changes no result, but without it llvmpipe's code for the weight
  // gradient ran 1.1-1.3x slower (paired, on all four CIFAR layers).
  if (order === 'cols') {
    L.push(`  let rowBlock = g % dims.tilesM;`);
    L.push(`  let live = g / dims.tilesM < dims.tilesN;`);
    L.push(`  let colBlock = min(g / dims.tilesM, dims.tilesN - 1u);`);
  } else {
    L.push(`  let colBlock = g % dims.tilesN;`);
    L.push(`  let live = g / dims.tilesN < dims.tilesM;`);
    L.push(`  let rowBlock = min(g / dims.tilesN, dims.tilesM - 1u);`);
  }
  L.push(`  if (!live) { return; }`);
  L.push(`  let batch = wid.z;`);
  L.push(`  let row0 = rowBlock * ${TM}u;`);
  if (aKind === 'dense') {
    L.push(`  let aRow = batch * dims.strideA + row0 + lane;`);
  } else if (aKind === 'lanes') {
    L.push(`  let aRow = (batch * dims.strideA + row0) / ${SG}u;   // texture row of this block's first 8 rows`);
  } else {
    // Each of this lane's rows is a patch (n, oh, ow): its top-left texel in the padded input, found once.
    for (const j of range(na)) L.push(`  let a${j}Base = patchOrigin(row0 + lane + ${SG * j}u);`);
  }
  L.push(`  let bRow = batch * dims.strideB;`);
  L.push(`  let bCol = (colBlock * ${SG}u + lane) * ${nv}u;`);
  if (bKind === 'patch' || bKind === 'patch4') {
    L.push(`  let bTap = tapOffset(min(bCol, dims.N / 4u - 1u));   // this lane's column is one tap texel`);
    // Wider lanes own several neighbouring tap texels (which may belong to neighbouring taps).
    for (const j of range(nv).slice(1)) L.push(`  let bTap${j} = tapOffset(min(bCol + ${j}u, dims.N / 4u - 1u));`);
    // The patch rows of the reduction are walked with counters: a division per row would cost more than the
    // FMAs (llvmpipe has no vector integer division).
    L.push(`  var walk = patchStart(bRow);`);
  }
  if (aKind === 'patch') L.push(`  var tap = vec2<u32>(0u, 0u);   // tap texel offset of k, advanced without divisions`);
  for (let i0 = 0; i0 < TM; i0 += 8) L.push('  ' + range(8).flatMap((d) => range(nv).map((j) => `var c${i0 + d}_${j} = vec4<f32>(0.0);`)).join(' '));
  L.push(`  let k4 = dims.Kp / 4u;`);
  L.push(kSteps === 2 ? `  for (var k = 0u; k < k4; k += 2u) {` : `  for (var k = 0u; k < k4; k++) {`);
  // The second step's operands carry the suffix s: as, bs, rs.
  const steps = range(kSteps).map((st) => ({ sx: st === 0 ? '' : 's', kx: st === 0 ? 'k' : '(k + 1u)' }));
  for (const { sx, kx } of steps) {
    if (aKind === 'dense') {
      for (const j of range(na)) L.push(`    let a${sx}${j} = textureLoad(aTex, vec2<u32>(${kx}, aRow + ${SG * j}u));`);
    } else if (aKind === 'lanes') {
      for (const j of range(na)) L.push(`    let a${sx}${j} = textureLoad(aTex, vec2<u32>(${kx} * ${SG}u + lane, aRow + ${j}u));`);
    } else {
      for (const j of range(na)) L.push(`    let a${sx}${j} = textureLoad(aTex, a${j}Base + tap);`);
      L.push(`    tap.x += 1u; if (tap.x == dims.KW * dims.C4) { tap = vec2<u32>(0u, tap.y + 1u); }`);
    }
    L.push(`    let kr${sx} = bRow + 4u * ${kx};`);
    if (bKind === 'denseT') {
      for (const jn of range(nv)) L.push('    ' + range(4).map((q) => `let b${sx}${jn}_${q} = textureLoad(bTex, vec2<u32>(kr${sx} / 4u, bCol * 4u + ${4 * jn + q}u));`).join(' '));
    } else if (bKind === 'dense') {
      for (const kk of range(4)) L.push('    ' + range(nv).map((j) => `let b${sx}${kk}_${j} = textureLoad(bTex, vec2<u32>(bCol + ${j}u, kr${sx} + ${kk}u));`).join(' '));
    } else if (bKind === 'patch') {
      for (const kk of range(4)) L.push('    ' + range(nv).map((j) => `let b${sx}${kk}_${j} = textureLoad(bTex, walkOrigin(walk) + ${tapName(j)});`).join(' ') + ' walk = walkNext(walk);');
    } else {
      L.push('    ' + range(nv).map((j) => `let b${sx}0_${j} = textureLoad(bTex, walkOrigin(walk) + ${tapName(j)});`).join(' '));
      for (const kk of range(3)) L.push('    ' + range(nv).map((j) => `let b${sx}${kk + 1}_${j} = textureLoad(bTex, walkOrigin(walk) + ${tapName(j)} + vec2<u32>(${kk + 1}u * dims.stride * dims.C4, 0u));`).join(' '));
      L.push(`    walk = walkNext4(walk);`);
    }
  }
  for (const i of range(TM)) {
    const j = Math.floor(i / SG), l = i % SG;
    // Row i's 4 k values (per step) times this lane's columns: outer products with B's rows, or dot products with
    // B^T's; an accumulator takes its products in k order, so both step counts give the same bits.
    L.push('   ' + steps.map(({ sx }) => {
      const products = bKind === 'denseT'
        ? range(nv).map((jn) => ` c${i}_${jn} += vec4(${range(4).map((q) => `dot(r${sx}${i}, b${sx}${jn}_${q})`).join(', ')});`)
        : range(nv).map((jn) => 'xyzw'.split('').map((comp, kk) => ` c${i}_${jn} = fma(vec4(r${sx}${i}.${comp}), b${sx}${kk}_${jn}, c${i}_${jn});`).join(''));
      return ` let r${sx}${i} = subgroupBroadcast(a${sx}${j}, ${l}u);` + products.join('');
    }).join(''));
  }
  L.push('  }');
  L.push(`  let cBase = batch * dims.strideC;`);
  L.push(`  let col = (colBlock * ${SG}u + lane) * ${TN}u;`);
  for (let i0 = 0; i0 < TM; i0 += 4) L.push('  ' + range(4).flatMap((d) => range(nv).map((j) => `store4(cBase, row0 + ${i0 + d}u, col + ${4 * j}u, c${i0 + d}_${j});`)).join(' '));
  L.push('}');
  return L.join('\n');
}

/** The variable holding the offset of a lane's j-th tap texel (patch B operands). */
const tapName = (j: number) => (j === 0 ? 'bTap' : `bTap${j}`);

const A_KINDS: readonly string[] = ['dense', 'lanes', 'patch'];
const B_KINDS: readonly string[] = ['dense', 'patch', 'patch4', 'denseT'];

/** `#generate subgroup_gemm(TM=64, TN=4, name=conv_fwd, aKind=patch)`: the arguments checked, then the text. */
export function subgroupGemmRecipe(args: Record<string, string>): string {
  const known = new Set(['TM', 'TN', 'name', 'aKind', 'bKind', 'order', 'kSteps']);
  for (const key of Object.keys(args)) if (!known.has(key)) throw new Error(`unknown argument '${key}' (takes ${[...known].join(', ')})`);
  const TM = Number(args.TM), TN = Number(args.TN);
  if (!Number.isInteger(TM) || TM <= 0 || TM % SG !== 0) throw new Error(`TM must be a positive multiple of ${SG}, not '${args.TM}'`);
  if (!Number.isInteger(TN) || TN <= 0 || TN % 4 !== 0) throw new Error(`TN must be a positive multiple of 4, not '${args.TN}'`);
  for (const [key, kinds] of [['aKind', A_KINDS], ['bKind', B_KINDS]] as const) {
    if (args[key] !== undefined && !kinds.includes(args[key])) throw new Error(`${key} must be ${kinds.join(', ')}, not '${args[key]}'`);
  }
  if (args.order !== undefined && args.order !== 'rows' && args.order !== 'cols') throw new Error(`order must be rows or cols, not '${args.order}'`);
  if (args.kSteps !== undefined && args.kSteps !== '1' && args.kSteps !== '2') throw new Error(`kSteps must be 1 or 2, not '${args.kSteps}'`);
  return subgroupGemm({ TM, TN, name: args.name, aKind: args.aKind as OperandKind | undefined, bKind: args.bKind as OperandKind | undefined, order: args.order as BlockOrder | undefined, kSteps: args.kSteps === '2' ? 2 : 1 });
}
