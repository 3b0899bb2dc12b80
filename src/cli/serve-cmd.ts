/** `lookalike serve INDEX`: the HTTP API and web page over an index (src/serve). */
import fs from 'node:fs';
import { Command } from 'commander';
import { LIMITS } from '../serve/defaults.ts';
import { addAnnOptions, addRerankOption, addStoreOption, annMode, storeLocation, type AnnFlags, type ModelFlags } from './flags.ts';
import { printErr } from './io.ts';

interface ServeFlags extends Pick<ModelFlags, 'model' | 'head' | 'threads' | 'device' | 'batch'>, AnnFlags {
  host: string;
  port: string;
  token?: string;
  tokenFile?: string;
  allowHost: string[];
  cors?: string;
  maxUpload: string;
  queue: string;
  watch: boolean;
  store?: string;
}

/** The token from --token-file, else $LOOKALIKE_TOKEN, else --token (a file's trailing newline is dropped). */
function tokenOf(o: ServeFlags): string | undefined {
  if (o.tokenFile && o.token) throw new Error('give --token-file or --token, not both');
  if (o.tokenFile) {
    let text: string;
    try {
      text = fs.readFileSync(o.tokenFile, 'utf8');
    } catch (e) {
      throw new Error(`--token-file ${o.tokenFile}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return text.replace(/\r?\n$/, '');
  }
  if (o.token !== undefined) printErr('note: --token is visible to other users of this machine (ps); prefer LOOKALIKE_TOKEN or --token-file\n');
  return o.token ?? (process.env.LOOKALIKE_TOKEN || undefined);
}

/** The `serve` command. */
export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description('serve an index over HTTP: search API (image upload, id, text), thumbnails, add/remove items, and a web page at /')
    .argument('[index]', 'index folder written by `lookalike index` (or --store LOCATION)')
    .option('-m, --model <model>', 'model for image queries (default: the one the index was built with; must have the same fingerprint)')
    .option('--head <file>', 'tuned head the index was built with (default: from the index)')
    .option('--host <host>', 'address to listen on; beyond loopback needs --token', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', '8080')
    .option('--token-file <file>', 'read the bearer token for POST /items, DELETE /items/:id and POST /reload from this file (preferred: not visible in ps)')
    .option('--token <token>', 'the bearer token itself (visible to other users in ps: prefer LOOKALIKE_TOKEN or --token-file); at least 16 characters beyond loopback')
    .option('--allow-host <name>', 'also answer requests whose Host header is this name (repeatable; localhost, IP addresses and --host always pass: the DNS rebinding guard)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--cors <origin>', 'allow this origin to call the API from a browser (no CORS by default)')
    .option('--max-upload <mb>', 'largest upload in MB', String(LIMITS.uploadBytes / 1024 / 1024))
    .option('--queue <n>', 'image queries running or waiting before 503 + Retry-After', String(LIMITS.queue))
    .option('--no-watch', 'do not reload when the index changes on disk (POST /reload still does)')
    .option('--threads <n>', 'inference threads (default: every core)')
    .option('--batch <n>', 'largest micro-batch of concurrent image queries');
  addStoreOption(cmd);
  addAnnOptions(cmd);
  addRerankOption(cmd);
  return cmd
    .addHelpText('after', `
API (docs/api.md): POST /search (image upload or JSON {"id"|"text"|"vector"}), GET /search?id=|text=,
GET /items/ID/thumbnail, GET /info, GET /healthz, POST /items, DELETE /items/ID, POST /reload.
--ann/--ef apply to every search (the graph is loaded or built at start, not by the first query);
a request may set its own depth with ef=N.

Example:
  lookalike serve gallery.lkx                      # http://127.0.0.1:8080
  curl -F image=@query.jpg 'http://127.0.0.1:8080/search?k=5'
  LOOKALIKE_TOKEN=$(openssl rand -hex 16) lookalike serve gallery.lkx --host 0.0.0.0 --allow-host photos.lan
  lookalike serve --store pglite:./db --port 8080
  lookalike serve big.lkx --ann on --ef 128        # approximate search, re-scored exactly`)
    .action(async (indexArg: string | undefined, o: ServeFlags) => {
      const api = await import('../api.ts');
      const { startServer } = await import('../serve/app.ts');
      const index = storeLocation(indexArg, o.store);
      const runtime = api.runtimeOf({ threads: o.threads, device: o.device, batch: o.batch });
      const mode = annMode({ ...o, json: false });
      const server = await startServer({
        index,
        model: o.model,
        head: o.head,
        runtime,
        host: o.host,
        port: api.toInteger(o.port, 'port', 0, 65535),
        token: tokenOf(o),
        allowHost: o.allowHost,
        cors: o.cors,
        uploadBytes: Math.round(api.toNumber(o.maxUpload, 'maxUpload') * 1024 * 1024),
        queue: api.toInteger(o.queue, 'queue', 1),
        watch: o.watch,
        ann: mode.ann,
        ef: mode.ef,
        annDtype: mode.annDtype,
        rerank: mode.rerank,
      });
      const g = server.live.current;
      printErr(`serving ${index} (${g.count} items, ${g.meta.dim}-d, model ${g.meta.model.name}${g.text ? ', text search on' : ''}) at ${server.url}/\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          // close() is bounded; a read stuck in the thread pool must not keep the process alive after it.
          server.close().then(resolve, resolve).finally(() => setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref());
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
