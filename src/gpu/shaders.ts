// WGSL sources from shaders/*.wgsl, their reflection, and compiled pipelines cached by text + overrides. WGSL has
// no includes, so the loader resolves two directives before anything sees the text, and a line map keeps every
// message at its own file and line:
//   #import NAME               shaders/lib/NAME.wgsl (once per module)
//   #import NAME(K=V, ...)     the same piece with each `$K` in it replaced by V, which may be empty (once per
//                              module and arguments):
//                              one text for pieces that differ only in a size or a name
//   #generate RECIPE(K=V, ...) text written by a TypeScript recipe (GENERATORS below): kernels unrolled by rules
//                              that WGSL cannot express, kept out of the committed .wgsl files
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The package's 'main' is a CommonJS-style bundle that ESM cannot name-import; its module build can.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { ShaderCompileError } from './errors.ts';
import { subgroupGemmRecipe } from './subgroup-gemm.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

/** shaders/ at the package root: two levels up from the sources, three from the compiled dist/src/gpu/. */
export const SHADER_DIR = [join(HERE, '..', '..', 'shaders'), join(HERE, '..', '..', '..', 'shaders')].find((dir) => existsSync(join(dir, 'matmul.wgsl'))) ?? join(HERE, '..', '..', 'shaders');

export type BindingKind = 'uniform' | 'read-only-storage' | 'storage' | 'texture' | 'storage-texture' | 'read-only-storage-texture';

export interface UniformField {
  name: string;
  offset: number;
  /** Scalar type of the field or of its vector components. */
  scalar: 'u32' | 'i32' | 'f32';
  count: number;
}

export interface BindingInfo {
  name: string;
  binding: number;
  kind: BindingKind;
  /** Fixed byte size (uniform struct size); 0 for runtime-sized arrays. */
  size: number;
  /** Byte size of one element of a runtime-sized array (to name a too-small buffer in elements). */
  elementSize: number;
  uniformFields?: UniformField[];
}

export interface EntryInfo {
  name: string;
  workgroupSize: [number, number, number];
  /** The override constant that sets the workgroup's x size, where one does (reflection gives its default). */
  workgroupOverride?: string;
  bindings: BindingInfo[];
}

/** Where a line of the expanded text came from. */
export interface LineOrigin {
  file: string;
  line: number;
}

export interface ShaderSource {
  /** Name used in messages: the file name for files in shaders/, or a registered name. */
  file: string;
  /** The text with its imports resolved (what is compiled). */
  text: string;
  /** origins[i]: the file and line of line i + 1 of `text`. */
  origins: LineOrigin[];
  entries: Map<string, EntryInfo>;
  overrides: Set<string>;
}

const sources = new Map<string, ShaderSource>();

const DIRECTIVE = /^#(import|generate)\s+([A-Za-z0-9_-]+)\s*(?:\((.*)\))?\s*$/;

/** The recipes `#generate` names: arguments in, WGSL text out (an Error's message says what is wrong). */
const GENERATORS: Record<string, (args: Record<string, string>) => string> = {
  subgroup_gemm: subgroupGemmRecipe,
};

function parseArguments(list: string | undefined): Record<string, string> | string {
  const args: Record<string, string> = {};
  if (list === undefined || list.trim() === '') return args;
  for (const part of list.split(',')) {
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*([A-Za-z0-9_.]*)\s*$/.exec(part);
    if (!m) return `argument '${part.trim()}' is not KEY=VALUE`;
    if (m[1] in args) return `argument '${m[1]}' given twice`;
    args[m[1]] = m[2];
  }
  return args;
}

/** Each `$KEY` of a piece replaced by its argument; every placeholder must have one and every argument a use. */
function substitute(piece: string, args: Record<string, string>): string | { error: string } {
  const used = new Set<string>();
  let missing: string | undefined;
  const text = piece.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, key: string) => {
    if (!(key in args)) { missing ??= key; return whole; }
    used.add(key);
    return args[key];
  });
  if (missing !== undefined) return { error: `no argument for $${missing}` };
  const unused = Object.keys(args).find((key) => !used.has(key));
  if (unused !== undefined) return { error: `the piece has no $${unused}` };
  return text;
}

/**
 * Resolves the directives: `#import` lines by pieces of shaders/lib/ (themselves expanded; a piece imported again
 * with the same arguments is skipped), `#generate` lines by their recipe's text. A generated line's origin is the
 * directive's file and line with the recipe named, and its line within the generated text.
 */
export function expandImports(file: string, text: string, seen = new Set<string>()): { text: string; origins: LineOrigin[] } {
  const lines: string[] = [];
  const origins: LineOrigin[] = [];
  text.split('\n').forEach((line, i) => {
    const directive = DIRECTIVE.exec(line.trim());
    if (!directive) {
      lines.push(line);
      origins.push({ file, line: i + 1 });
      return;
    }
    const [, kind, name, list] = directive;
    const fail = (why: string): never => { throw new ShaderCompileError(`${file}:${i + 1}: #${kind} ${name}: ${why}`); };
    const args = parseArguments(list);
    if (typeof args === 'string') fail(args);
    const key = `${kind} ${name}(${Object.entries(args).map(([k, v]) => `${k}=${v}`).sort().join(',')})`;
    if (seen.has(key)) return;
    seen.add(key);
    if (kind === 'generate') {
      const recipe = GENERATORS[name] ?? fail(`no recipe ${name} (there are: ${Object.keys(GENERATORS).join(', ')})`);
      let generated = '';
      try {
        generated = recipe(args as Record<string, string>);
      } catch (e) {
        fail((e as Error).message);
      }
      const from = `${file}:${i + 1} (#generate ${name})`;
      generated.split('\n').forEach((out, k) => { lines.push(out); origins.push({ file: from, line: k + 1 }); });
      return;
    }
    const pieceFile = `shaders/lib/${name}.wgsl`;
    let piece = '';
    try {
      piece = readFileSync(join(SHADER_DIR, 'lib', `${name}.wgsl`), 'utf8');
    } catch {
      fail(`no file ${pieceFile}`);
    }
    const filled = substitute(piece.replace(/\n$/, ''), args as Record<string, string>);
    if (typeof filled !== 'string') fail(filled.error);
    const expanded = expandImports(pieceFile, filled as string, seen);
    lines.push(...expanded.text.split('\n'));
    origins.push(...expanded.origins);
  });
  return { text: lines.join('\n'), origins };
}

/** `file:line` of line `line` (1-based) of an expanded source. */
export function sourceLine(source: Pick<ShaderSource, 'file' | 'origins'>, line: number): string {
  const origin = source.origins[line - 1];
  return origin ? `${origin.file}:${origin.line}` : `${source.file}:${line}`;
}
const inline = new Map<string, string>();

/** Registers WGSL text under a name, for tools and tests that build shaders outside shaders/. */
export function registerShaderSource(name: string, text: string): void {
  inline.set(name, text);
  sources.delete(name);
}

const SCALARS: Record<string, UniformField['scalar']> = { u32: 'u32', i32: 'i32', f32: 'f32' };

function uniformFields(type: any): UniformField[] {
  const suffix: Record<string, UniformField['scalar']> = { f: 'f32', u: 'u32', i: 'i32' };
  return (type?.members ?? []).map((member: any) => {
    const typeName: string = member.type.name;
    const vector = /^vec([234])([fiu])?$/.exec(typeName);
    const scalar = vector ? SCALARS[member.type.format?.name] ?? suffix[vector[2]] : SCALARS[typeName];
    if (!scalar) throw new Error(`uniform field '${member.name}' has type ${typeName}; only u32, i32, f32 and their vectors are supported`);
    return { name: member.name, offset: member.offset, scalar, count: vector ? Number(vector[1]) : 1 };
  });
}

function reflect(file: string, original: string): ShaderSource {
  const { text, origins } = expandImports(file, original);
  let reflection: WgslReflect;
  try {
    reflection = new WgslReflect(text);
  } catch (e) {
    const message = String((e as Error).message ?? e);
    const line = Number(/Line: (\d+)/.exec(message)?.[1] ?? 0);
    const where = line > 0 ? `${sourceLine({ file, origins }, line)}: ` : `${file}: `;
    const source = line > 0 ? `\n  ${String(line).padStart(4)} | ${text.split('\n')[line - 1] ?? ''}` : '';
    throw new ShaderCompileError(`${where}WGSL does not parse: ${message.replace(/\.?\s*Line: \d+\s*$/, '')}${source}`);
  }
  const all = new Map<string, BindingInfo>();
  for (const group of reflection.getBindGroups()) {
    for (const variable of group ?? []) {
      if (!variable) continue;
      if (variable.group !== 0) throw new Error(`${file}: binding '${variable.name}' uses @group(${variable.group}); kernels use group 0 only`);
      const resource = variable.resourceType;
      const typeName = variable.type?.name ?? '';
      let kind: BindingKind;
      if (resource === 0) kind = 'uniform';
      else if (resource === 1) kind = variable.access === 'read' ? 'read-only-storage' : 'storage';
      else if (typeName.startsWith('texture_storage')) kind = variable.access === 'read' ? 'read-only-storage-texture' : 'storage-texture';
      else kind = 'texture';
      const elementType = (variable.type as any)?.format;
      all.set(variable.name, {
        name: variable.name, binding: variable.binding, kind,
        size: kind === 'uniform' ? variable.size : 0,
        elementSize: elementType?.size ?? 4,
        uniformFields: kind === 'uniform' ? uniformFields(variable.type) : undefined,
      });
    }
  }
  const entries = new Map<string, EntryInfo>();
  for (const entry of reflection.entry.compute) {
    const used = new Set((entry.resources ?? []).map((r: any) => r.name));
    const size = (entry as any).workgroupSize ?? [1, 1, 1];
    const sizedBy = new RegExp(`@workgroup_size\\(\\s*([A-Za-z_]\\w*)\\s*\\)\\s*fn\\s+${entry.name}\\b`).exec(text)?.[1];
    entries.set(entry.name, {
      name: entry.name,
      workgroupSize: [Number(size[0]) || 1, Number(size[1]) || 1, Number(size[2]) || 1],
      workgroupOverride: sizedBy && reflection.overrides.some((o: any) => o.name === sizedBy) ? sizedBy : undefined,
      bindings: [...all.values()].filter((b) => used.has(b.name)).sort((a, b) => a.binding - b.binding),
    });
  }
  return { file, text, origins, entries, overrides: new Set(reflection.overrides.map((o: any) => o.name)) };
}

export function loadShader(name: string): ShaderSource {
  let source = sources.get(name);
  if (source) return source;
  const text = inline.get(name);
  if (text !== undefined) {
    source = reflect(name, text);
  } else {
    const file = name.endsWith('.wgsl') ? name : `${name}.wgsl`;
    let fileText: string;
    try {
      fileText = readFileSync(join(SHADER_DIR, file), 'utf8');
    } catch {
      throw new Error(`shader file shaders/${file} not found`);
    }
    source = reflect(`shaders/${file}`, fileText);
  }
  sources.set(name, source);
  return source;
}

/**
 * Formats compilation messages as file:line:column with the offending line and a caret; the file and line are
 * those of the piece the line came from (through `#import`).
 */
export function formatCompileMessages(source: Pick<ShaderSource, 'file' | 'text' | 'origins'>, messages: readonly GPUCompilationMessage[]): string {
  const lines = source.text.split('\n');
  return messages.filter((m) => m.type === 'error').map((m) => {
    const text = lines[m.lineNum - 1] ?? '';
    const line = source.origins[m.lineNum - 1]?.line ?? m.lineNum;
    const caret = ' '.repeat(Math.max(0, m.linePos - 1)) + '^';
    return `${sourceLine(source, m.lineNum)}:${m.linePos}: error: ${m.message}\n  ${String(line).padStart(4)} | ${text}\n       | ${caret}`;
  }).join('\n');
}
