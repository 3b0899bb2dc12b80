/** `lookalike compact INDEX`: merge an index's segments into one and drop removed rows. */
import { Command } from 'commander';
import { addStoreOption, printJson, storeLocation } from './flags.ts';
import { printOut } from './io.ts';

/** The `compact` command. */
export function compactCommand(): Command {
  const cmd = new Command('compact')
    .description('rewrite an index folder as one segment without removed rows (also migrates a v1 index); crash-safe')
    .argument('[index]', 'index folder')
    .option('--json', 'print a JSON summary');
  addStoreOption(cmd);
  cmd.addHelpText('after', `
Compaction also runs on its own after a write when there are more than 8 segments or more
than 25% of the rows are removed ones.

Example:
  lookalike compact gallery.lkx`);
  cmd.action(async (index: string | undefined, o: { json?: boolean; store?: string }) => {
    const api = await import('../api.ts');
    const loc = storeLocation(index, o.store);
    const summary = await api.compactIndex(loc);
    if (o.json) printJson(summary);
    else printOut(summary.compacted ? `${loc}: ${summary.segments_before} segment(s), ${summary.rows_before} rows -> 1 segment, ${summary.items} items (${summary.seconds.toFixed(1)} s)\n` : `${loc}: already compact (1 segment, no removed rows)\n`);
  });
  return cmd;
}
