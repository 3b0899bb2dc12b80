/** `lookalike fields INDEX`: show item fields and their types; `fields set`: change them without re-embedding. */
import { Command } from 'commander';
import { addStoreOption, printJson, setFlagNames, storeLocation } from './flags.ts';
import { printOut, printErr } from './io.ts';

interface ShowFlags {
  id?: string[];
  where?: string;
  limit: string;
  json?: boolean;
  store?: string;
}

interface SetFlags {
  id?: string[];
  from?: string;
  replace?: boolean;
  json?: boolean;
  store?: string;
}

/** The `fields` command (show) with its `set` subcommand. */
export function fieldsCommand(): Command {
  const cmd = new Command('fields')
    .description('show the fields of items (and the field types of the index); `fields set` changes them without re-embedding')
    .argument('[index]', 'index folder (or --store LOCATION)')
    .option('--id <id...>', 'items to show (default: the first --limit items the filter matches)')
    .option('--where <expr>', 'only items whose fields match (docs/filters.md)')
    .option('--limit <n>', 'items shown without --id', '20')
    .option('--json', 'print JSON');
  addStoreOption(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike fields shop.lkx
  lookalike fields shop.lkx --where 'label = "Shoes"' --limit 5 --json
  lookalike fields set shop.lkx price=49.5 'tags=red|sale' --id shoes/0001.jpg
  lookalike fields set shop.lkx --from items.csv`);
  cmd.action(async (indexArg: string | undefined, o: ShowFlags) => {
    const api = await import('../api.ts');
    const index = await api.openIndex(storeLocation(indexArg, o.store));
    try {
      const schema = await index.fieldSchema();
      const page = o.id?.length ? { total: o.id.length, items: await index.items(o.id) } : await index.browse({ filter: o.where, limit: api.toInteger(o.limit, 'limit', 1, 1000) });
      if (o.json) return printJson({ types: schema, total: page.total, items: page.items.map((r) => ({ id: r.id, fields: r.fields })) });
      printOut(`fields: ${Object.entries(schema).map(([n, t]) => `${n} (${t})`).join(', ') || 'none'}\n`);
      for (const r of page.items) printOut(`${r.id}  ${JSON.stringify(r.fields)}\n`);
      if (page.total > page.items.length) printOut(`(${page.items.length} of ${page.total} shown)\n`);
    } finally {
      await index.close();
    }
  });
  const set = new Command('set')
    .description('set item fields (name=value; name= removes a field) or apply a sidecar file, in one atomic write, without re-embedding')
    .argument('[index]', 'index folder (or --store LOCATION)')
    .argument('[assignments...]', 'name=value pairs, typed like the field (lists: a|b|c)')
    .option('--id <id...>', 'items the assignments apply to (after the assignments: every word after --id is an id)')
    .option('--from <file>', 'items.csv or items.jsonl joined on `path` (docs/filters.md)')
    .option('--replace', 'replace each item\'s fields instead of merging')
    .option('--json', 'print JSON');
  addStoreOption(set);
  setFlagNames(set, { ids: '--id', file: '--from' });
  set.addHelpText('after', `
Example:
  lookalike fields set shop.lkx price=49.5 on_sale=true --id shoes/0001.jpg shoes/0002.jpg
  lookalike fields set shop.lkx --from items.jsonl`);
  set.action(async (indexArg: string | undefined, assignments: string[], o: SetFlags) => {
    const api = await import('../api.ts');
    // With --store, every positional argument is an assignment.
    const location = storeLocation(o.store ? undefined : indexArg, o.store);
    const set = o.store && indexArg !== undefined ? [indexArg, ...assignments] : assignments;
    const r = await api.updateFields(location, { ids: o.id, set, file: o.from, replace: o.replace });
    if (o.json) return printJson(r);
    printOut(`${location}: fields updated on ${r.updated} item(s)\n`);
    if (r.unmatched) printErr(`${o.from}: ${r.unmatched} row(s) name no item of the index (ignored)\n`);
  });
  // `fields` and `fields set` both have --id: the parent's options are read before `set` only.
  cmd.enablePositionalOptions();
  cmd.addCommand(set);
  return cmd;
}
