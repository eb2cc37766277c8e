/**
 * The REPL's `ls` filter: `ls [--machine <id>] [--where <clause>]... [--sort <by[:order]>]`
 * (search clauses and sorts as in `GET /instances?where=...&sort=...`; docs/operations.md,
 * "Search").
 *
 * @module
 */
import type { ListOptions } from "../persist/store.ts";
import { parseWhere } from "../persist/search.ts";
import { parseSort } from "../persist/search_sort.ts";
import { StoreError } from "../persist/types.ts";
import { ReplError } from "./arguments.ts";

const USAGE = "usage: ls [--machine <id>] [--where <clause>]... [--sort <by[:asc|:desc]>]";

/** Reads the arguments of `ls` into a list filter. */
export function lsFilter(rest: string): ListOptions {
  const words = rest.trim().split(/\s+/).filter((w) => w !== "");
  const filter: ListOptions = {};
  const clauses: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const flag = words[i];
    const value = words[i + 1];
    if ((flag !== "--where" && flag !== "--machine" && flag !== "--sort") || value === undefined) {
      throw new ReplError(`${USAGE} (unexpected "${flag}")`);
    }
    if (flag === "--machine") filter.machine = value;
    else if (flag === "--sort") filter.sort = checked(() => parseSort(value));
    else clauses.push(value);
    i++;
  }
  if (clauses.length > 0) filter.where = checked(() => parseWhere(clauses));
  return filter;
}

/** A store's refusal of the text as a REPL error (`ls: sort "x:up": expected ...`). */
function checked<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof StoreError) throw new ReplError(`ls: ${e.message}`);
    throw e;
  }
}
