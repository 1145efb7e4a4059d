// The confusion matrix of `saln eval` as a picture: true class down, predicted class across, each cell shaded by
// the share of its true class (so that rare classes read as clearly as common ones) and labelled with its count.
import { writeChart } from './charts.ts';

/** `matrix[t][p]`: test images of true class t predicted as p. Writes `path` (SVG) and a PNG beside it. */
export async function confusionChart(path: string, matrix: number[][], classNames: string[], title: string): Promise<void> {
  const values = matrix.flatMap((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => ({ truth: classNames[t], predicted: classNames[p], count, share: total ? count / total : 0 }));
  });
  // Cells sized so that up to ~20 classes keep their count legible; larger sets drop the numbers.
  const cell = Math.max(8, Math.min(40, Math.floor(600 / Math.max(1, classNames.length))));
  const size = cell * classNames.length;
  const axis = (field: string, title: string) => ({ field, type: 'ordinal' as const, title, sort: classNames });
  await writeChart(path, {
    title, width: size, height: size, data: { values },
    encoding: { x: axis('predicted', 'Predicted class'), y: axis('truth', 'True class') },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'share', type: 'quantitative', title: 'Share of true class', scale: { domain: [0, 1], scheme: 'blues' } } } },
      ...(cell >= 20 ? [{
        mark: { type: 'text' as const, fontSize: Math.min(12, cell / 2.5) },
        encoding: {
          text: { field: 'count', type: 'quantitative' as const },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' },
        },
      }] : []),
    ],
  } as Parameters<typeof writeChart>[1]);
}
