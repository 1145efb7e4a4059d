// `saln predict`: the most probable classes of PNG and JPEG files, each brought to the model's input the way the
// training images were (decoded to RGB, grey for a 1-channel model, resized to cover and centre-cropped).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse, UsageError } from '../util/args.ts';
import { MODEL_HELP, MODEL_OPTIONS, modelOverrides } from './model-options.ts';
import { numberFlag } from './run-options.ts';
import { getRuntime } from '../gpu/runtime.ts';
import { buildModel, classify, readModel, topK, type Preprocessing } from '../train/inference.ts';
import { decodeImage, resizeCover, toGrey } from '../../datasets/image.ts';
import { DatasetError } from '../../datasets/errors.ts';

const HELP = `usage: saln predict --model DIR [options] FILE|DIR...

Prints the --top most probable classes, with their names and probabilities, of each PNG or JPEG file (any size,
grey, RGB or with alpha); a directory is walked for .png, .jpg and .jpeg files (sorted). Images are prepared as the
model's training images were: the run's image size, channels and normalisation, read from its checkpoint.

  --top K                 classes per image (default 3)
${MODEL_HELP}
  --json                  one JSON array: [{file, top: [{class, index, probability}]}]
`;

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('predict', argv, { ...MODEL_OPTIONS, top: { type: 'string', default: '3' } }, true);
  if (values.help) { process.stdout.write(HELP); return 0; }
  const overrides = modelOverrides('predict', values);
  const top = numberFlag('predict', 'top', values.top, 'positiveInteger');
  const batchSize = numberFlag('predict', 'batch-size', values['batch-size'], 'positiveInteger');
  if (positionals.length === 0) throw new UsageError('predict: no images given; pass PNG or JPEG files, or directories of them');
  const files = positionals.flatMap(imageFiles);
  if (files.length === 0) throw new UsageError(`predict: no .png, .jpg or .jpeg files in ${positionals.join(', ')}`);
  const loaded = readModel(values.model!, overrides);
  const pre = loaded.preprocessing;
  // Every image is decoded before the GPU starts: an unreadable one stops the command before any output.
  const images = prepareImages(files, pre);

  const rt = await getRuntime({ adapter: values.adapter });
  const net = buildModel(rt, loaded);
  let probabilities: Float32Array;
  try {
    probabilities = await classify(rt, net, pre, images, files.length, batchSize);
  } finally {
    net.store.dispose();
  }
  const classes = pre.model.classes;
  const results = files.map((file, i) => ({
    file,
    top: topK(probabilities.subarray(i * classes, (i + 1) * classes), Math.min(top, classes)).map(({ index, probability }) => ({ class: pre.classNames[index], index, probability })),
  }));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(results)}\n`);
    return 0;
  }
  const fileWidth = Math.min(60, Math.max(4, ...files.map((f) => f.length)));
  const header = ['file'.padEnd(fileWidth), ...Array.from({ length: Math.min(top, classes) }, (_, k) => `#${k + 1}`.padEnd(22))].join('  ').trimEnd();
  const rows = results.map(({ file, top: best }) => [file.padEnd(fileWidth), ...best.map((b) => `${b.class} ${(100 * b.probability).toFixed(1)}%`.padEnd(22))].join('  ').trimEnd());
  process.stdout.write(`${[header, ...rows].join('\n')}\n`);
  return 0;
}

/** A file as given (whatever its name: the bytes say the format), or a directory's images, recursively, sorted. */
function imageFiles(path: string): string[] {
  if (!existsSync(path)) throw new UsageError(`predict: ${path} does not exist`);
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const full = join(path, entry.name);
      if (entry.isDirectory()) return imageFiles(full);
      return IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase()) ? [full] : [];
    });
}

/** uint8 NHWC at the model's size and channel count, as the image loaders of training make them. */
function prepareImages(files: string[], pre: Preprocessing): Uint8Array {
  const [height, width] = pre.imageSize, channels = pre.model.inChannels;
  if (channels !== 1 && channels !== 3) throw new UsageError(`predict: the model takes ${channels}-channel images; only 1 (grey) and 3 (RGB) come from PNG/JPEG files`);
  const pixels = height * width * channels;
  const out = new Uint8Array(files.length * pixels);
  files.forEach((file, i) => {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new DatasetError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const rgb = decodeImage(bytes, file);
    const image = resizeCover(channels === 1 ? toGrey(rgb) : rgb, height, width);
    out.set(image.data, i * pixels);
  });
  return out;
}
