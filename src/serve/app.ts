/**
 * `lookalike serve`: one fastify process serving an index over HTTP (API in routes.ts, web page
 * from page/). Chosen because it is well kept, fast, and has first-party multipart and static
 * plugins with size limits built in. Errors are answered as one-line JSON and logged as one line
 * each with the request id; nothing is logged per successful request.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { optionalImport, parseRerank, type AnnDtype, type AnnMode, type Runtime } from '../api.ts';
import { checkBinding, checkHost, HttpError, LIMITS } from './limits.ts';
import { PixelBudget } from './pixels.ts';
import { LiveIndex } from './reload.ts';
import { registerRoutes } from './routes.ts';

/** Options of a server. */
export interface ServeOptions {
  /** Index folder (or store URL). */
  index: string;
  /** Model for image queries (default: the index's own); must match the index's fingerprint. */
  model?: string;
  head?: string;
  runtime?: Runtime;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Bearer token for POST /items, DELETE /items/:id and POST /reload. */
  token?: string;
  /** Host names (besides localhost, IP addresses and the bound host) the server answers to: the DNS rebinding guard. */
  allowHost?: string[];
  /** Allow this origin (CORS); none by default. */
  cors?: string;
  uploadBytes?: number;
  /** Pixels per image (header), default LIMITS.pixels. */
  maxPixels?: number;
  /** Pixels decoded at once, all requests together (default LIMITS.decodePixels). */
  decodePixels?: number;
  /** Milliseconds a shutdown waits for requests in flight (default LIMITS.shutdownMs). */
  shutdownMs?: number;
  /** Image queries running or waiting before 503. */
  queue?: number;
  requestTimeoutMs?: number;
  maxK?: number;
  /** Poll the index for changes (default true). */
  watch?: boolean;
  /** Where images added over HTTP are kept (default INDEX.uploads beside a folder index). */
  uploads?: string;
  /** Log lines (default stderr). */
  log?: (line: string) => void;
  /** Approximate search for every query (`--ann`; default auto: the graph from ANN_AUTO_MIN items). */
  ann?: AnnMode;
  /** Default ANN search depth (`--ef`); a request may ask for another with `ef`. */
  ef?: number;
  /** Graph dtype when the graph is built at start (`--ann-dtype`). */
  annDtype?: AnnDtype;
  /** Re-ranking for every search (`--rerank`, docs/ranking.md); checked at start. */
  rerank?: string;
}

/** A running server. */
export interface Server {
  app: FastifyInstance;
  live: LiveIndex;
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

/** The folder of the web page's static files (src/serve/page, or dist/serve/page when built). */
export function pageDir(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');
}

/** One line, at most 300 characters. */
function oneLine(s: string): string {
  const l = s.replace(/\s+/g, ' ').trim();
  return l.length > 300 ? l.slice(0, 297) + '...' : l;
}

/** Build the fastify app over an opened index (not listening yet). */
export async function buildApp(o: ServeOptions, live: LiveIndex): Promise<FastifyInstance> {
  const { default: Fastify } = await optionalImport<typeof import('fastify')>('fastify', 'serve');
  const { default: multipart } = await optionalImport<typeof import('@fastify/multipart')>('@fastify/multipart', 'serve');
  const { default: fastifyStatic } = await optionalImport<typeof import('@fastify/static')>('@fastify/static', 'serve');
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const uploadBytes = o.uploadBytes ?? LIMITS.uploadBytes;
  const app = Fastify({
    logger: false,
    bodyLimit: uploadBytes,
    requestTimeout: o.requestTimeoutMs ?? LIMITS.requestTimeoutMs,
    connectionTimeout: o.requestTimeoutMs ?? LIMITS.requestTimeoutMs,
    genReqId: () => crypto.randomBytes(6).toString('hex'),
    routerOptions: { maxParamLength: 1024 },
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    reply.header('x-content-type-options', 'nosniff');
    checkHost(req.headers.host, o.host ?? '127.0.0.1', o.allowHost);
    if (o.cors) {
      reply.header('access-control-allow-origin', o.cors).header('vary', 'Origin');
      if (req.method === 'OPTIONS') {
        reply.header('access-control-allow-methods', 'GET, POST, DELETE').header('access-control-allow-headers', 'authorization, content-type').header('access-control-max-age', '600');
        return reply.code(204).send();
      }
    }
  });
  await app.register(multipart, { limits: { fileSize: uploadBytes, files: 1 } });
  app.addContentTypeParser(/^(image\/[a-z0-9.+-]+|application\/octet-stream)$/i, { parseAs: 'buffer', bodyLimit: uploadBytes }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    let status = err instanceof HttpError ? err.status : (err.statusCode ?? 500);
    if (err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') status = 413;
    if (status < 400 || status > 599) status = 500;
    let message = err.message;
    if (err.code === 'FST_FILES_LIMIT') message = 'send one image per request (the form has more than one file)';
    else if (err.code === 'FST_PARTS_LIMIT' || err.code === 'FST_FIELDS_LIMIT') message = 'too many form fields (at most 10 besides the image)';
    else if (status === 413 && !(err instanceof HttpError)) message = `upload is larger than ${uploadBytes} bytes`;
    if (status === 415 && err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') message = `content type ${req.headers['content-type'] ?? '(none)'} is not accepted: send an image, multipart/form-data or JSON`;
    if (status === 400 && err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') message = 'malformed JSON body';
    // What went wrong inside stays in the log (it may name files); the answer says only where to look.
    let detail = err instanceof HttpError ? err.detail : undefined;
    if (status >= 500 && !(err instanceof HttpError)) {
      detail = err.message;
      message = `internal error (the server log has the details under request id ${req.id})`;
    }
    log(`${new Date().toISOString()} ${req.id} ${req.method} ${oneLine(req.url).slice(0, 200)} ${status} ${oneLine(message)}${detail ? ` | ${oneLine(detail)}` : ''}`);
    if (detail && process.env.LOOKALIKE_DEBUG && err.stack) log(err.stack);
    if (err instanceof HttpError) reply.headers(err.headers);
    return reply.code(status).send({ error: oneLine(message), request_id: req.id });
  });
  app.setNotFoundHandler((req, reply) => {
    const message = `no route ${req.method} ${oneLine(req.url).slice(0, 200)}`;
    log(`${new Date().toISOString()} ${req.id} ${req.method} ${oneLine(req.url).slice(0, 200)} 404 ${message}`);
    return reply.code(404).send({ error: message, request_id: req.id });
  });
  const uploads = o.uploads ?? (/^[a-z][a-z0-9+.-]*:/i.test(o.index) ? undefined : `${path.resolve(o.index).replace(/[\\/]+$/, '')}.uploads`);
  const maxPixels = o.maxPixels ?? LIMITS.pixels;
  const pixels = new PixelBudget(Math.max(o.decodePixels ?? LIMITS.decodePixels, maxPixels), o.queue ?? LIMITS.queue);
  registerRoutes(app, { live, token: o.token, uploadBytes, maxPixels, uploads, maxK: o.maxK ?? 1000, pixels, fileBytes: LIMITS.fileBytes, readTimeoutMs: LIMITS.readTimeoutMs });
  await app.register(fastifyStatic, { root: pageDir(), prefix: '/', index: 'index.html', list: false, wildcard: false, decorateReply: false, cacheControl: false, etag: true });
  return app;
}

/** Open the index, build the app and listen. */
export async function startServer(o: ServeOptions): Promise<Server> {
  const host = o.host ?? '127.0.0.1';
  checkBinding(host, o.token);
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  parseRerank(o.rerank);
  const live = await LiveIndex.open(o.index, { model: o.model, head: o.head, runtime: o.runtime, search: { ann: o.ann, ef: o.ef, annDtype: o.annDtype, rerank: o.rerank } }, o.queue ?? LIMITS.queue, log);
  let app: FastifyInstance;
  try {
    app = await buildApp(o, live);
    await app.listen({ host, port: o.port ?? 8080 });
  } catch (e) {
    await live.close();
    throw e;
  }
  if (o.watch !== false) live.watch();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const shutdownMs = o.shutdownMs ?? LIMITS.shutdownMs;
  return {
    app,
    live,
    url,
    async close() {
      // Requests still running after shutdownMs (a client that stopped sending, a stuck read)
      // lose their connections, so a shutdown always ends within a bound.
      const force = setTimeout(() => {
        log(`${new Date().toISOString()} shutdown: requests still running after ${shutdownMs} ms; closing their connections`);
        app.server.closeAllConnections();
      }, shutdownMs);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      await Promise.race([live.close(), new Promise((r) => setTimeout(r, shutdownMs).unref())]);
    },
  };
}
