/** `lookalike dedup INDEX --threshold T|auto`: groups of near-duplicate items, with a keeper per group. */
import { Command } from 'commander';
import type { DedupResult } from '../api.ts';
import { addAnnOptions, addFilterOptions, addStoreOption, annMode, lazyProgress, printJson, storeLocation, type AnnFlags, type FilterFlags } from './flags.ts';
import { printOut } from './io.ts';

interface DedupFlags extends AnnFlags, FilterFlags {
  threshold: string;
  out?: string;
  neighbours: string;
  json?: boolean;
  store?: string;
}

/** The `dedup` command. */
export function dedupCommand(): Command {
  const cmd = new Command('dedup')
    .description('find groups of near-duplicate images in an index (cosine above a threshold), with a keeper suggestion per group')
    .argument('[index]', 'index folder written by `lookalike index` (or --store LOCATION)')
    .requiredOption('-t, --threshold <T|auto>', 'cosine above which two items are near-duplicates, or "auto" (picked from the nearest-neighbour score distribution; docs/dedup.md)')
    .option('-o, --out <file>', 'write the groups: .csv -> group,id,keeper,cosine_to_keeper,bytes; anything else -> JSON')
    .option('--neighbours <n>', 'neighbours examined per item (groups also grow through chains of pairs)', '10')
    .option('--json', 'print the result as JSON, no progress');
  addAnnOptions(cmd);
  addFilterOptions(cmd, false);
  addStoreOption(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike dedup photos.lkx --threshold auto --out groups.csv
  lookalike dedup --store pglite:./db --threshold auto --json
  lookalike dedup photos.lkx --threshold 0.97 --out groups.json --ann on --ef 128`);
  cmd.action(async (indexArg: string | undefined, o: DedupFlags) => {
    const api = await import('../api.ts');
    const index = storeLocation(indexArg, o.store);
    const bar = lazyProgress('dedup', o.json);
    const r = await api.dedup(index, { threshold: o.threshold, neighbours: api.toInteger(o.neighbours, 'neighbours', 1), out: o.out, ...annMode(o), filter: o.where, onProgress: bar.update }).finally(() => bar.end());
    if (o.json) printJson(o.out ? { ...summary(r), out: o.out } : r);
    else printGroups(r, o.out);
  });
  return cmd;
}

function summary(r: DedupResult) {
  return { threshold: r.threshold, rule: r.rule, items: r.items, groups: r.groups.length, duplicates: r.duplicates, pairs: r.pairs, keeper_rule: r.keeperRule };
}

function printGroups(r: DedupResult, out?: string): void {
  const w = (s: string) => printOut(s + '\n');
  w(`threshold ${r.threshold.toFixed(4)} (${r.rule})`);
  for (const [i, g] of r.groups.slice(0, 50).entries()) {
    w(`group ${i + 1}: ${g.members.length} items, keep ${g.keeper}`);
    for (const m of g.members) w(`  ${m.id === g.keeper ? '*' : ' '} ${m.score.toFixed(4)}  ${m.id}`);
  }
  if (r.groups.length > 50) w(`(${r.groups.length - 50} more groups${out ? ` in ${out}` : '; use --out'})`);
  w(`${r.items} items: ${r.groups.length} groups of near-duplicates holding ${r.duplicates} items (${r.duplicates - r.groups.length} could go)${out ? `; written to ${out}` : ''}`);
}
