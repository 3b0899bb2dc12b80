/** The `--store LOCATION` option: an alias for a command's INDEX argument (folder path or store URL). */
import type { Command } from 'commander';

/** Add `--store <location>` to a command that takes an index. */
export function addStoreOption(cmd: Command): Command {
  return cmd.option('--store <location>', 'the index to use, same as the INDEX argument: a folder, or a store URL (postgres://..., pglite:DIR)');
}

/** The index location from the positional argument or --store (not both). */
export function storeLocation(positional: string | undefined, store: string | undefined, what = 'INDEX'): string {
  if (positional !== undefined && store !== undefined && positional !== store) throw new Error(`give the index once: either ${what} or --store (got ${positional} and --store ${store})`);
  const loc = store ?? positional;
  if (!loc) throw new Error(`give the index: ${what} or --store LOCATION`);
  return loc;
}
