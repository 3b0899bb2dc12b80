/** `lookalike verify INDEX`: check every file of an index against its manifest checksums. */
import { Command } from 'commander';
import { addStoreOption, printJson, storeLocation } from './flags.ts';
import { printOut, printErr } from './io.ts';

/** The `verify` command. */
export function verifyCommand(): Command {
  const cmd = new Command('verify')
    .description('check an index folder: sizes, headers, sha256 checksums, ids, unit-length rows (exit 1 naming each bad file)')
    .argument('[index]', 'index folder')
    .option('--json', 'print the report as JSON');
  addStoreOption(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike verify gallery.lkx
  lookalike verify gallery.lkx --json`);
  cmd.action(async (index: string | undefined, o: { json?: boolean; store?: string }) => {
    const api = await import('../api.ts');
    const loc = storeLocation(index, o.store);
    const r = await api.verifyIndex(loc);
    if (o.json) printJson({ ok: r.problems.length === 0, ...r });
    else {
      for (const n of r.notes) printErr(`note: ${n}\n`);
      for (const p of r.problems) printErr(`${p}\n`);
      if (!r.problems.length) printOut(`${loc}: ok (format v${r.version}, ${r.rows} items, ${r.files} files checked)\n`);
    }
    if (r.problems.length) process.exitCode = 1;
  });
  return cmd;
}
