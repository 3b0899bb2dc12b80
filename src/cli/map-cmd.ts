/** `lookalike map INDEX --out map.html|map.svg|map.png`: a 2-D picture of the gallery (UMAP or PCA), coloured by a field. */
import { Command } from 'commander';
import { addStoreOption, printJson, storeLocation } from './flags.ts';
import { printErr, printOut } from './io.ts';

interface MapFlags {
  out: string;
  color?: string;
  method: string;
  json?: boolean;
  store?: string;
}

/** The `map` command. */
export function mapCommand(): Command {
  const cmd = new Command('map')
    .description('draw a 2-D map of an index (nearby points: similar images), coloured by a field; computed once per index state and cached beside it')
    .argument('[index]', 'index folder written by `lookalike index` (or --store LOCATION)')
    .requiredOption('-o, --out <file>', 'picture to write: .html (hover a point for its id), .svg or .png')
    .option('--color <field>', 'field the points are coloured by (default: label, when the index has it)')
    .option('--method <auto|umap|pca>', 'layout: auto is UMAP up to 20,000 items, PCA above (docs/explorer.md)', 'auto')
    .option('--json', 'print the result as JSON');
  addStoreOption(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike map photos.lkx --out map.html
  lookalike map photos.lkx --out map.png --color folder`);
  cmd.action(async (indexArg: string | undefined, o: MapFlags) => {
    const api = await import('../api.ts');
    const index = storeLocation(indexArg, o.store);
    const r = await api.writeMap(index, o.out, { color: o.color, method: o.method as 'auto', onNote: o.json ? undefined : (m) => printErr(m + '\n') });
    if (o.json) printJson(r);
    else printOut(`${r.out}: ${r.items} items laid out with ${r.method === 'umap' ? 'UMAP' : 'PCA'}${r.cached ? ' (cached)' : ''}${r.legend.length ? `, ${r.legend.length} colours` : ''}\n`);
  });
  return cmd;
}
