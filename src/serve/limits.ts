/**
 * The server's limits and guards: HTTP errors with a status, image checks before decoding
 * (type, pixel count from the header only), the bearer token, loopback-only binding without a
 * token, and safe ids for uploads.
 */
import crypto from 'node:crypto';
import type { Metadata } from 'sharp';
import { sharpLib } from '../api.ts';
import { LIMITS } from './defaults.ts';

export { LIMITS };

/** An error answered with this HTTP status and a one-line JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Logged with the request id, never sent (it may name files). */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** The shortest bearer token accepted for a server reachable beyond loopback. */
export const MIN_TOKEN_LENGTH = 16;

/** Image formats accepted for queries and uploads (sharp's names). */
export const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

/** Check that bytes are an image of an accepted type within the pixel limit (reads the header only). */
export async function checkImage(buf: Buffer, maxPixels = LIMITS.pixels): Promise<{ format: string; width: number; height: number }> {
  if (!buf.length) throw new HttpError(400, 'empty upload: send an image');
  let meta: Metadata;
  try {
    // limitInputPixels: false here so an oversized header is reported by our check, not sharp's.
    meta = await sharpLib()(buf, { limitInputPixels: false }).metadata();
  } catch {
    throw new HttpError(415, 'not an image: send JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF bytes');
  }
  const format = String(meta.format ?? '');
  if (!IMAGE_FORMATS.has(format)) throw new HttpError(415, `image type ${format || 'unknown'} is not accepted: send JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF`);
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (!width || !height) throw new HttpError(422, 'image has no size in its header');
  if (width * height > maxPixels) throw new HttpError(413, `image is ${width}x${height} = ${width * height} pixels; the limit is ${maxPixels}`);
  return { format, width, height };
}

/** True for loopback host names and addresses. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Refuse an empty or blank token, and listening beyond loopback without a token of at least MIN_TOKEN_LENGTH characters. */
export function checkBinding(host: string, token: string | undefined): void {
  if (token !== undefined && (!token.trim() || /\s/.test(token))) throw new Error('the token is empty or contains white space: give a random string of at least 16 characters (e.g. `openssl rand -hex 16`)');
  if (isLoopback(host)) return;
  if (!token) throw new Error(`--host ${host}: listening beyond loopback needs a token (LOOKALIKE_TOKEN or --token-file): anyone who can reach it could add and remove items`);
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`--host ${host}: the token has ${token.length} characters; beyond loopback it needs at least ${MIN_TOKEN_LENGTH} (e.g. \`openssl rand -hex 16\`)`);
}

/** True for an IP address literal (IPv4, or IPv6 in brackets or bare). */
function isIpLiteral(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || /^\[?[0-9a-f:.]+\]?$/i.test(name) && name.includes(':');
}

/**
 * Check a request's Host header against DNS rebinding: IP literals (a page can only reach them
 * under their own origin), `localhost`, the name the server was bound to and the names given
 * with allowHost pass; any other name is refused (a page on another site that rebound its name
 * to this address).
 */
export function checkHost(header: string | undefined, bound: string, allowHost: string[] = []): void {
  if (header === undefined) return;
  const name = header.trim().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  if (!name || isIpLiteral(name) || name === 'localhost' || name.endsWith('.localhost') || name === bound.toLowerCase()) return;
  if (allowHost.some((h) => h.toLowerCase() === name)) return;
  throw new HttpError(403, `Host ${JSON.stringify(name)} is not a name of this server (DNS rebinding guard); to reach it under that name, start it with --allow-host ${name}`);
}

/** Check `Authorization: Bearer TOKEN` in constant time; 401 without it, 403 with a wrong one. */
export function checkToken(header: string | undefined, token: string | undefined): void {
  if (!token) throw new HttpError(403, 'this server was started without a token (LOOKALIKE_TOKEN or --token-file): adding and removing items over HTTP are off');
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) throw new HttpError(401, 'missing bearer token: send Authorization: Bearer TOKEN', { 'www-authenticate': 'Bearer' });
  const a = crypto.createHash('sha256').update(m[1].trim()).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  if (!crypto.timingSafeEqual(a, b)) throw new HttpError(403, 'wrong token');
}

/** An id for an uploaded item: a relative POSIX path of plain segments (no '..', no absolute, no control characters). */
export function checkItemId(id: string): string {
  if (!id || id.length > 512) throw new HttpError(400, 'id: give 1 to 512 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\\]/.test(id) || id.startsWith('/') || id.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new HttpError(400, `id ${JSON.stringify(id)}: use a relative path of plain names separated by "/" (no "..", no leading "/")`);
  }
  return id;
}

/** A positive integer query parameter (k), clamped to `max`. */
export function intParam(v: unknown, name: string, def: number, max: number): number {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new HttpError(400, `${name} ${JSON.stringify(v)}: expected a positive integer`);
  return Math.min(n, max);
}


/** A boolean parameter: true, 1, yes or on. */
export function boolParam(v: unknown): boolean {
  return v === true || (typeof v === 'string' && /^(1|true|yes|on)$/i.test(v));
}
