/** `lookalike compact INDEX`: merge an index's segments into one and drop removed rows. */
import { Command } from 'commander';
import { FolderStore } from '../store/folder/store.ts';
import { openStore } from '../store/open.ts';
import { printJson } from './options.ts';
import { addStoreOption, storeLocation } from './store-option.ts';

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
    const loc = storeLocation(index, o.store);
    const store = await openStore(loc, { write: true });
    try {
      if (!(store instanceof FolderStore)) throw new Error(`${loc}: compact applies to index folders`);
      const before = store.layout();
      const t0 = Date.now();
      const did = await store.compact(true);
      const after = store.layout();
      const summary = { index: loc, compacted: did, segments_before: before.segments.length, segments_after: after.segments.length, rows_before: before.segments.reduce((a, s) => a + s.rows, 0), items: await store.count(), seconds: (Date.now() - t0) / 1000 };
      if (o.json) printJson(summary);
      else process.stdout.write(did ? `${loc}: ${summary.segments_before} segment(s), ${summary.rows_before} rows -> 1 segment, ${summary.items} items (${summary.seconds.toFixed(1)} s)\n` : `${loc}: already compact (1 segment, no removed rows)\n`);
    } finally {
      await store.close();
    }
  });
  return cmd;
}
