/**
 * Bulk loads through `COPY ... FROM STDIN (FORMAT binary)` with the `pg` driver, which has no
 * COPY API of its own: a submittable query that answers the server's CopyInResponse with the
 * data, and the binary COPY encoding of an index's rows (vectors in pgvector's binary format).
 */
import type pg from 'pg';
import type { StoreItem } from '../types.ts';
import { toVectorBinary } from './vectors.ts';

/** The columns a bulk load writes, in order (other columns take their defaults). */
export const COPY_COLUMNS = ['id', 'path', 'sha256', 'size', 'label', 'domain', 'fields', 'embedding'] as const;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Rows in PostgreSQL's binary COPY format (header, one tuple per item, trailer). */
export function copyRows(items: (StoreItem & { path?: string })[]): Buffer {
  const parts: Buffer[] = [SIGNATURE, Buffer.alloc(8)]; // flags 0, header extension 0
  const text = (s: string | undefined | null) => (s == null ? null : Buffer.from(s, 'utf8'));
  for (const it of items) {
    const size = it.file?.size;
    const fields: (Buffer | null)[] = [
      text(it.id),
      text(it.path),
      text(it.file?.sha256),
      size == null ? null : (() => {
        const b = Buffer.alloc(8);
        b.writeBigInt64BE(BigInt(size));
        return b;
      })(),
      text(it.label),
      text(it.domain),
      // jsonb's binary format: version 1, then the JSON text (no fields: NULL, as inserts write it).
      it.fields && Object.keys(it.fields).length ? Buffer.concat([Buffer.from([1]), Buffer.from(JSON.stringify(it.fields), 'utf8')]) : null,
      toVectorBinary(it.vector),
    ];
    const head = Buffer.alloc(2);
    head.writeInt16BE(fields.length);
    parts.push(head);
    for (const f of fields) {
      const len = Buffer.alloc(4);
      len.writeInt32BE(f ? f.length : -1);
      parts.push(len);
      if (f) parts.push(f);
    }
  }
  const end = Buffer.alloc(2);
  end.writeInt16BE(-1);
  parts.push(end);
  return Buffer.concat(parts);
}

/** The protocol side of the connection a submittable query is given. */
interface Connection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** A `COPY ... FROM STDIN` run on a client: the data is sent when the server asks for it. */
class CopyIn {
  callback?: (err: Error | null) => void;
  private done = false;
  constructor(
    private readonly text: string,
    private readonly data: Buffer,
  ) {}
  submit(connection: Connection): void {
    connection.query(this.text);
  }
  handleCopyInResponse(connection: Connection): void {
    for (let i = 0; i < this.data.length; i += 1 << 16) connection.sendCopyFromChunk(this.data.subarray(i, i + (1 << 16)));
    connection.endCopyFrom();
  }
  handleError(err: Error): void {
    this.finish(err);
  }
  handleReadyForQuery(): void {
    this.finish(null);
  }
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
  private finish(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    this.callback?.(err);
  }
}

/** Run `COPY table (...) FROM STDIN (FORMAT binary)` with `data` on a checked-out client. */
export function copyIn(client: pg.PoolClient, text: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const q = new CopyIn(text, data);
    q.callback = (err) => (err ? reject(err) : resolve());
    (client as unknown as { query(q: CopyIn): void }).query(q);
  });
}
