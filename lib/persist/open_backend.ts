/**
 * Picks the backend for a store location: `postgres://` and `postgresql://` URLs open
 * PostgreSQL (its client loads only then); anything else is Deno KV (a file, `":memory:"`, or
 * a KV Connect `http(s)://` URL).
 *
 * @module
 */
import type { KvBackend } from "./backend.ts";
import { openDenoKvBackend } from "./backend_deno_kv.ts";

/** Whether a store location names a PostgreSQL database. */
export function isPostgresUrl(path: string): boolean {
  return /^postgres(ql)?:\/\//i.test(path);
}

/** Opens the backend a store location names. */
export async function openBackend(path: string): Promise<KvBackend> {
  if (isPostgresUrl(path)) {
    const { openPostgresBackend } = await import("./backend_postgres.ts");
    return await openPostgresBackend(path);
  }
  return await openDenoKvBackend(path);
}
