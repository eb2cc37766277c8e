/**
 * The store's format record: its version, and an encrypted probe value when the store is
 * encrypted, so that a wrong key, a missing key or a needless key is refused at open.
 *
 * @module
 */
import type { KvBackend } from "./backend.ts";
import { decrypt, encrypt, StoreDataError } from "./codec.ts";
import { K } from "./keys.ts";

/** The format this code writes and reads. */
export const STORE_FORMAT = 1;

const encoder = new TextEncoder();

/** Writes the format record of a new store, or checks an existing one against `key`. */
export async function checkFormat(
  backend: KvBackend,
  key: CryptoKey | null,
  where: string,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const existing = await backend.get<{ version: number; check: Uint8Array | null }>(K.format());
    if (existing.value === null) {
      const check = key === null ? null : await encrypt(key, encoder.encode("statecraft"));
      const r = await backend.atomic([{ key: K.format(), version: null }], [
        { type: "set", key: K.format(), value: { version: STORE_FORMAT, check } },
      ]);
      if (r.ok) return;
      continue; // another process wrote it first: check theirs
    }
    const { version, check } = existing.value;
    if (version !== STORE_FORMAT) {
      throw new StoreDataError(
        `store ${where}: format version ${version}, but this Statecraft reads version ${STORE_FORMAT}`,
      );
    }
    if (check === null && key !== null) {
      throw new StoreDataError(
        `store ${where} is not encrypted; open it without an encryption key`,
      );
    }
    if (check !== null && key === null) {
      throw new StoreDataError(`store ${where} is encrypted; open it with its encryption key`);
    }
    if (check !== null && key !== null) {
      try {
        await decrypt(key, check, `store ${where}`);
      } catch {
        throw new StoreDataError(`store ${where}: wrong encryption key`);
      }
    }
    return;
  }
  throw new StoreDataError(`store ${where}: its format record keeps changing`);
}
