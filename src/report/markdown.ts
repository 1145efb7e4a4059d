// summary.md for `saln compare`: one table row per selector and one plain sentence on who won. A tie is
// anything the table cannot tell apart (equal at the precision it prints), so the sentence never claims a
// win that the reader cannot see in the numbers.

export interface SummaryRow {
  selector: string;
  /** Fractions in [0, 1]; printed as percentages. */
  finalAccuracy: number;
  bestAccuracy: number;
  /** Wall time of the whole run. */
  seconds: number;
  imagesBackpropagated: number;
  forwardPasses: number;
  /** Wall time until test accuracy first reached the target; null if it never did. */
  secondsToTarget: number | null;
  /** Images back-propagated until then (independent of the machine's load); null if it never did. */
  imagesToTarget: number | null;
  selectionSecondsPerStep: number;
  /** Fraction of step time spent selecting, in [0, 1]; printed as a percentage. */
  selectionShare: number;
}

const NEVER = '—';

/**
 * A Markdown table of the runs, then one line naming the fastest selector to `target` (a fraction) and the
 * best on final accuracy, and saying whether saln beat random on each when both ran. `extra` (for example
 * the dataset and seed) follows as its own paragraph.
 */
export function summaryMarkdown(rows: SummaryRow[], target: number, extra?: string): string {
  const goal = percent(target);
  const header = [
    'Selector',
    'Final accuracy (%)',
    'Best accuracy (%)',
    `Time to ${goal}% (s)`,
    `Images to ${goal}%`,
    'Wall time (s)',
    'Images back-propagated',
    'Forward passes',
    'Selection (ms/step)',
    'Selection share (%)',
  ];
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) =>
      `| ${[
        escapeCell(r.selector),
        percent(r.finalAccuracy),
        percent(r.bestAccuracy),
        r.secondsToTarget === null ? NEVER : seconds(r.secondsToTarget),
        r.imagesToTarget === null ? NEVER : count(r.imagesToTarget),
        seconds(r.seconds),
        count(r.imagesBackpropagated),
        count(r.forwardPasses),
        fixed(r.selectionSecondsPerStep * 1000, 2),
        percent(r.selectionShare),
      ].join(' | ')} |`,
    ),
  ];
  const parts = [lines.join('\n'), rows.length ? verdict(rows, goal) : 'No runs.'];
  if (extra) parts.push(extra);
  return `${parts.join('\n\n')}\n`;
}

function verdict(rows: SummaryRow[], goal: string): string {
  const sentences = [
    `Fastest to ${goal}%: ${best(rows, (r) => r.secondsToTarget, seconds, 'min', ' s') ?? 'none (no selector reached it)'}.`,
    `Best final accuracy: ${best(rows, (r) => r.finalAccuracy, percent, 'max', '%') ?? 'none (no run has a final accuracy)'}.`,
  ];
  const saln = rows.find((r) => r.selector === 'saln');
  const random = rows.find((r) => r.selector === 'random');
  if (saln && random) {
    sentences.push(`saln against random: on time to ${goal}%, ${timeVerdict(saln, random, goal)}; on final accuracy, ${accuracyVerdict(saln, random)}.`);
  }
  return sentences.join(' ');
}

/** The winner, or every selector tied with it at printed precision; null when no row has a value. */
function best(rows: SummaryRow[], value: (r: SummaryRow) => number | null, format: (v: number) => string, direction: 'min' | 'max', unit: string): string | null {
  const scored = rows.flatMap((r) => {
    const v = value(r);
    return v !== null && Number.isFinite(v) ? [{ selector: r.selector, v }] : [];
  });
  if (!scored.length) return null;
  const top = scored.reduce((a, b) => ((direction === 'min' ? b.v < a.v : b.v > a.v) ? b : a));
  const tied = scored.filter((s) => format(s.v) === format(top.v)).map((s) => s.selector);
  const shown = `${format(top.v)}${unit}`;
  return tied.length > 1 ? `tie between ${listing(tied)} (${shown})` : `${top.selector} (${shown})`;
}

function timeVerdict(saln: SummaryRow, random: SummaryRow, goal: string): string {
  const [a, b] = [finiteOrNull(saln.secondsToTarget), finiteOrNull(random.secondsToTarget)];
  if (a === null && b === null) return 'neither reached it';
  if (b === null) return `saln beat random (${seconds(a!)} s; random never reached ${goal}%)`;
  if (a === null) return `saln did not beat random (saln never reached ${goal}%; random took ${seconds(b)} s)`;
  if (seconds(a) === seconds(b)) return `tie (${seconds(a)} s each)`;
  return `saln ${a < b ? 'beat' : 'did not beat'} random (${seconds(a)} s against ${seconds(b)} s)`;
}

function accuracyVerdict(saln: SummaryRow, random: SummaryRow): string {
  const [a, b] = [finiteOrNull(saln.finalAccuracy), finiteOrNull(random.finalAccuracy)];
  if (a === null && b === null) return 'neither run has a final accuracy';
  if (b === null) return `saln beat random (${percent(a!)}%; random has no final accuracy)`;
  if (a === null) return `saln did not beat random (saln has no final accuracy; random ${percent(b)}%)`;
  if (percent(a) === percent(b)) return `tie (${percent(a)}% each)`;
  return `saln ${a > b ? 'beat' : 'did not beat'} random (${percent(a)}% against ${percent(b)}%)`;
}

const finiteOrNull = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);

/** A fraction as a percentage with 2 decimals, without the sign (the column header carries it). */
const percent = (fraction: number) => fixed(fraction * 100, 2);

/** Seconds with 2 decimals under 10 s (short test runs), 1 above. */
const seconds = (s: number) => fixed(s, Math.abs(s) < 10 ? 2 : 1);

function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

/** Whole numbers with thousands separators, independent of the machine's locale. */
function count(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function listing(names: string[]): string {
  return names.length <= 2 ? names.join(' and ') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}
