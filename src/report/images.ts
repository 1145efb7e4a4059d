// PNG pictures of one selection step for `saln compare`: the super-batch with the kept images framed, and the
// similarity matrix the selector saw, reordered so that its clusters show as blocks on the diagonal.
import { writeFileAtomic } from '../util/atomic.ts';
import { encode } from 'fast-png';

export interface ImageBatch {
  height: number;
  width: number;
  channels: 1 | 3;
  /** NHWC bytes of the whole super-batch; the image count is pixels.length / (height * width * channels). */
  pixels: Uint8Array;
}

export interface GridOptions {
  /** Images per row; default ceil(sqrt(N)), a near-square grid. */
  columns?: number;
  /**
   * Pixels per source pixel, nearest neighbour (below 1 shrinks). Default: the whole number that brings an
   * image to at least 64 px (2 for 28x28 and 32x32), shrunk so that the grid is at most 2048 px wide.
   */
  scale?: number;
}

export type Rgb = readonly [number, number, number];

export const KEPT_BORDER: Rgb = [0, 200, 0];
export const DROPPED_BORDER: Rgb = [220, 0, 0];
const BACKGROUND: Rgb = [255, 255, 255];
const BORDER = 2;
const GAP = 2;
/** Dropped images are darkened to this fraction so that the kept ones stand out at a glance. */
const DIM = 0.4;
const MAX_GRID_WIDTH = 2048;

/** The super-batch in a grid: kept images (indices into the batch) framed green, dropped ones framed red and dimmed. */
export function selectionGrid(path: string, images: ImageBatch, kept: ArrayLike<number>, options: GridOptions = {}): void {
  const { height: h, width: w, channels: c, pixels } = images;
  if (c !== 1 && c !== 3) throw new RangeError(`selectionGrid: channels must be 1 or 3, got ${c}`);
  const perImage = h * w * c;
  const count = pixels.length / perImage;
  if (!(perImage > 0) || !Number.isInteger(count)) {
    throw new RangeError(`selectionGrid: ${pixels.length} bytes is not a whole number of ${h}x${w}x${c} images`);
  }
  const isKept = keptMask(kept, count, 'selectionGrid');
  const columns = Math.max(1, Math.floor(options.columns ?? Math.ceil(Math.sqrt(count))));
  const rows = Math.max(1, Math.ceil(count / columns));
  const scale = options.scale ?? defaultScale(h, w, Math.min(columns, Math.max(count, 1)));
  if (!(scale > 0)) throw new RangeError(`selectionGrid: scale must be positive, got ${scale}`);
  const tileH = Math.max(1, Math.round(h * scale));
  const tileW = Math.max(1, Math.round(w * scale));
  const cellH = tileH + 2 * BORDER;
  const cellW = tileW + 2 * BORDER;
  const out = new Canvas(GAP + columns * (cellW + GAP), GAP + rows * (cellH + GAP));
  for (let n = 0; n < count; n++) {
    const top = GAP + Math.floor(n / columns) * (cellH + GAP);
    const left = GAP + (n % columns) * (cellW + GAP);
    out.fill(top, left, cellH, cellW, isKept[n] ? KEPT_BORDER : DROPPED_BORDER);
    const factor = isKept[n] ? 1 : DIM;
    const base = n * perImage;
    for (let y = 0; y < tileH; y++) {
      const sy = Math.floor((y * h) / tileH);
      for (let x = 0; x < tileW; x++) {
        const source = base + (sy * w + Math.floor((x * w) / tileW)) * c;
        // A grey image is expanded to RGB by repeating its one channel.
        const r = pixels[source];
        const g = c === 3 ? pixels[source + 1] : r;
        const b = c === 3 ? pixels[source + 2] : r;
        out.set(top + BORDER + y, left + BORDER + x, [r * factor, g * factor, b * factor]);
      }
    }
  }
  out.write(path);
}

/**
 * The B x B similarity matrix (row-major) with rows and columns both taken in `order` (a permutation of
 * 0..B-1), so pixel (i, j) shows similarity[order[i]][order[j]]. Values map to a diverging colour scale,
 * blue at -1, near-white at 0, red at +1 (clamped outside [-1, 1]; NaN is black so it cannot pass for 0).
 * `cellSize` defaults to 4 px for B = 64 (256 px overall), at least 1 px and at most 16 px.
 */
export function similarityImage(path: string, similarity: Float32Array, order: ArrayLike<number>, options: { cellSize?: number } = {}): void {
  const B = Math.round(Math.sqrt(similarity.length));
  if (B * B !== similarity.length || B === 0) throw new RangeError(`similarityImage: ${similarity.length} values is not a non-empty square matrix`);
  if (order.length !== B) throw new RangeError(`similarityImage: order has ${order.length} entries for a ${B}x${B} matrix`);
  const seen = keptMask(order, B, 'similarityImage');
  if (seen.some((s) => !s)) throw new RangeError('similarityImage: order is not a permutation (an index repeats)');
  const cell = Math.max(1, Math.floor(options.cellSize ?? Math.min(16, Math.max(1, Math.round(256 / B)))));
  const out = new Canvas(B * cell, B * cell);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < B; j++) out.fill(i * cell, j * cell, cell, cell, divergingColour(similarity[order[i] * B + order[j]]));
  }
  out.write(path);
}

// ColorBrewer RdBu (5 classes) from -1 to +1, interpolated linearly in RGB.
const DIVERGING_STOPS: Rgb[] = [[5, 113, 176], [146, 197, 222], [247, 247, 247], [244, 165, 130], [202, 0, 32]];

/** -1 blue, 0 near-white, +1 red; clamped outside [-1, 1]; NaN black. */
export function divergingColour(value: number): Rgb {
  if (Number.isNaN(value)) return [0, 0, 0];
  const position = ((Math.min(1, Math.max(-1, value)) + 1) / 2) * (DIVERGING_STOPS.length - 1);
  const lower = Math.min(DIVERGING_STOPS.length - 2, Math.floor(position));
  const t = position - lower;
  const [a, b] = [DIVERGING_STOPS[lower], DIVERGING_STOPS[lower + 1]];
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function defaultScale(h: number, w: number, columns: number): number {
  const up = Math.max(1, Math.floor(64 / Math.max(h, w)));
  const fit = (MAX_GRID_WIDTH - GAP) / columns - 2 * BORDER - GAP;
  return Math.min(up, Math.max(1, fit) / w);
}

/** One flag per item; throws on an index that is not a whole number in [0, count). */
function keptMask(indices: ArrayLike<number>, count: number, caller: string): Uint8Array {
  const mask = new Uint8Array(count);
  for (let k = 0; k < indices.length; k++) {
    const index = indices[k];
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`${caller}: index ${index} is outside 0..${count - 1}`);
    mask[index] = 1;
  }
  return mask;
}

/** An RGB8 image under construction, background-filled. */
class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8Array(width * height * 3);
    this.fill(0, 0, height, width, BACKGROUND);
  }
  set(y: number, x: number, [r, g, b]: Rgb): void {
    const o = (y * this.width + x) * 3;
    this.data[o] = Math.round(r);
    this.data[o + 1] = Math.round(g);
    this.data[o + 2] = Math.round(b);
  }
  fill(top: number, left: number, height: number, width: number, colour: Rgb): void {
    for (let y = top; y < top + height; y++) for (let x = left; x < left + width; x++) this.set(y, x, colour);
  }
  /** Temp file then rename: a reader (or a crash) never sees half a picture. */
  write(path: string): void {
    writeFileAtomic(path, encode({ width: this.width, height: this.height, data: this.data, channels: 3, depth: 8 }));
  }
}
