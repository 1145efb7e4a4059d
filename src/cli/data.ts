// `saln data download|list`: fetch the known data sets from their official sources and show what is on disk.
import { existsSync } from 'node:fs';
import { parse, UsageError } from '../util/args.ts';
import { CATALOG, DATASET_NAMES, MARKER_FILE, findDataset, inspectDataset, resolveDataDir, type DatasetEntry, type DatasetStatus } from '../../datasets/catalog.ts';
import { fetchDataset, type FetchOptions } from '../../datasets/download.ts';
import type { ProgressStream } from '../util/progress.ts';

const HELP = `usage: saln data download NAME... [--dir DIR] [--force]
       saln data list [--json] [--dir DIR]

datasets: ${DATASET_NAMES.join(', ')}

download  fetches NAME from its official source (the URLs and MD5s its authors or torchvision publish)
          into DIR/NAME/, with a progress bar. An interrupted download resumes from FILE.part. Every file
          is checked against its MD5 before use, archives are unpacked, and DIR/NAME/${MARKER_FILE}
          records the checksums so that a verified set is not fetched again. Without a network, the error
          names the files to put in DIR/NAME/ by hand; run the same command again to verify them.
list      whether each data set is present, where, and its samples per split.

options:
  --dir DIR, --data-dir DIR   the data directory (default: $SALN_DATA, else datasets/data in the saln package)
  --force                     download even when a verified copy (or a system package's copy) is present
  --json                      list: one JSON object on stdout

environment:
  SALN_DATA=DIR               the data directory
  SALN_DOWNLOAD_BASE=URL      fetch every file from URL/NAME/FILE (a local mirror) instead of the official URLs
`;

/** What the command talks to; tests replace the streams, the environment and the catalog. */
export interface DataCommandContext {
  stdout: { write(chunk: string): unknown };
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
  catalog: readonly DatasetEntry[];
  /** Passed through to the downloader (timeouts, retries); tests shorten them. */
  download: Pick<FetchOptions, 'timeoutMs' | 'retries' | 'maxRedirects'>;
}

export async function run(argv: string[], context: Partial<DataCommandContext> = {}): Promise<number> {
  const ctx: DataCommandContext = {
    stdout: process.stdout, stderr: process.stderr, env: process.env, catalog: CATALOG, download: {}, ...context,
  };
  const { values, positionals } = parse('data', argv, {
    dir: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' }, force: { type: 'boolean' },
  }, true);
  const [action, ...names] = positionals;
  if (values.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  if (!action) throw new UsageError(`data: name an action, download or list; run 'saln data --help'`);
  if (values.dir !== undefined && values['data-dir'] !== undefined && values.dir !== values['data-dir']) {
    throw new UsageError(`data: --dir and --data-dir name the same setting; give one`);
  }
  const dataDir = resolveDataDir(values.dir ?? values['data-dir'], ctx.env);
  if (action === 'list') {
    if (names.length) throw new UsageError(`data list: takes no data set names (got ${names.join(' ')}); run 'saln data --help'`);
    // A directory named on the command line that is not there is a typo, not a place where nothing is installed yet.
    const dirFlag = values.dir ?? values['data-dir'];
    if (dirFlag !== undefined && !existsSync(dataDir)) throw new UsageError(`data list: --dir ${dirFlag} does not exist`);
    return list(ctx, dataDir, Boolean(values.json));
  }
  if (action === 'download') {
    if (values.json) throw new UsageError(`data download: --json applies to 'data list' only`);
    if (!names.length) throw new UsageError(`data download: name a data set (${ctx.catalog.map((e) => e.name).join(', ')})`);
    const entries = names.map((name) => findDataset(name, ctx.catalog) ?? unknown(name, ctx.catalog));
    const dirFlag = values.dir ?? values['data-dir'];
    for (const entry of entries) {
      const rerun = `saln data download ${entry.name}${dirFlag === undefined ? '' : ` --dir ${dataDir}`}`;
      await download(ctx, entry, dataDir, Boolean(values.force), rerun);
    }
    return 0;
  }
  throw new UsageError(`data: unknown action '${action}' (expected download or list); run 'saln data --help'`);
}

function unknown(name: string, catalog: readonly DatasetEntry[]): never {
  throw new UsageError(`data download: unknown data set '${name}'; available: ${catalog.map((e) => e.name).join(', ')}`);
}

async function download(ctx: DataCommandContext, entry: DatasetEntry, dataDir: string, force: boolean, rerun: string): Promise<void> {
  const log = (line: string) => void ctx.stderr.write(`${line}\n`);
  const result = await fetchDataset(entry, dataDir, { ...ctx.download, force, env: ctx.env, log, progressStream: ctx.stderr, rerun });
  const summary = {
    present: `${entry.title} is already present and verified in ${result.dir}; nothing to fetch (--force fetches it again)`,
    system: `${entry.title} is already installed in ${result.dir}; nothing to fetch (--force fetches a copy into the data directory)`,
    fetched: `${entry.title}: verified and ready in ${result.dir}`,
  }[result.status];
  ctx.stdout.write(`${summary}\n`);
}

function list(ctx: DataCommandContext, dataDir: string, json: boolean): number {
  const rows = ctx.catalog.map((entry) => inspectDataset(entry, dataDir));
  if (json) {
    ctx.stdout.write(`${JSON.stringify({ dataDir, datasets: rows })}\n`);
    return 0;
  }
  ctx.stdout.write(`data directory: ${dataDir}\n\n`);
  const table = rows.map((row) => [row.name, state(row), splits(row), where(row)]);
  const widths = [0, 1, 2].map((column) => Math.max(...table.map((cells) => cells[column].length), ['dataset', 'status', 'samples'][column].length));
  const line = (cells: string[]) => `${cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell)).join('  ')}\n`.replace(/ +\n$/, '\n');
  ctx.stdout.write(line(['dataset', 'status', 'samples', 'location']));
  for (const cells of table) ctx.stdout.write(line(cells));
  for (const row of rows) for (const problem of row.problems) ctx.stdout.write(`warning: ${row.name}: ${problem}\n`);
  return 0;
}

function state(row: DatasetStatus): string {
  if (!row.present) return row.incomplete ? 'incomplete' : 'missing';
  return row.verified ? 'verified' : 'present';
}

const splits = (row: DatasetStatus) => (row.splits
  ? Object.entries(row.splits).map(([split, count]) => `${split} ${count.toLocaleString('en-US')}`).join(' / ')
  : '-');

const where = (row: DatasetStatus) => (row.note ? `${row.location} (${row.note})` : row.location);
