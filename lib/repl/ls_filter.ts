/**
 * The REPL's `ls` filter: `ls [--machine <id>] [--where <clause>]...` (search clauses as in
 * `GET /instances?where=`; docs/operations.md, "Search").
 *
 * @module
 */
import type { ListOptions } from "../persist/store.ts";
import { parseWhere } from "../persist/search.ts";
import { StoreError } from "../persist/types.ts";
import { ReplError } from "./arguments.ts";

/** Reads the arguments of `ls` into a list filter. */
export function lsFilter(rest: string): ListOptions {
  const words = rest.trim().split(/\s+/).filter((w) => w !== "");
  const filter: ListOptions = {};
  const clauses: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const flag = words[i];
    const value = words[i + 1];
    if ((flag !== "--where" && flag !== "--machine") || value === undefined) {
      throw new ReplError(
        `usage: ls [--machine <id>] [--where <clause>]... (unexpected "${flag}")`,
      );
    }
    if (flag === "--machine") filter.machine = value;
    else clauses.push(value);
    i++;
  }
  if (clauses.length > 0) {
    try {
      filter.where = parseWhere(clauses);
    } catch (e) {
      if (e instanceof StoreError) throw new ReplError(`ls: ${e.message}`);
      throw e;
    }
  }
  return filter;
}
