// One workgroup per row of a matrix, its lanes sweeping the row's columns j = lid, lid + WG, ... (imported with
// `#import row_sweep`). Rows past the last get an empty sweep instead of a return: every invocation must still
// reach the workgroup's barriers (the tree that combines the lanes). The workgroups of a long grid are folded
// into x and y by the launcher.
struct RowSweep {
  row: u32,
  inRange: bool,
  end: u32,   // columns this row sweeps: `cols`, or 0 past the last row
}

fn rowSweep(wid: vec3<u32>, groups: vec3<u32>, rows: u32, cols: u32) -> RowSweep {
  let row = wid.x + wid.y * groups.x;
  let inRange = row < rows;
  return RowSweep(row, inRange, select(0u, cols, inRange));
}
