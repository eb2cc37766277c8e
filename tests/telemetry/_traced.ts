/**
 * The traced program of the tracing tests (`_traced_child.ts`) as a subprocess: started on a
 * store, optionally as a cluster node, with the OpenTelemetry variables it is given.
 *
 * @module
 */

const CHILD = new URL("./_traced_child.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/** A running traced program. */
export interface TracedChild {
  /** Its HTTP address. */
  url: string;
  /** Closes stdin (the program stops, flushing its exports), waits for its exit; its stderr. */
  stop(): Promise<string>;
}

/** The traced program, started on `kv` (as cluster node `node`, if given); once it listens. */
export async function startChild(
  kv: string,
  env: Record<string, string>,
  node?: string,
): Promise<TracedChild> {
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--quiet",
      "--unstable-kv",
      "--unstable-worker-options",
      "--allow-read",
      "--allow-write=/tmp",
      "--allow-env",
      "--allow-net=127.0.0.1",
      "--allow-run=deno",
      "--allow-sys=homedir,uid,systemMemoryInfo,hostname",
      CHILD,
      kv,
      ...(node === undefined ? [] : [node]),
    ],
    cwd: ROOT,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`the traced program ended: ${await stderrOf(child)}`);
    text += value;
  }
  const { url } = JSON.parse(text.slice(0, text.indexOf("\n"))) as { url: string };
  return {
    url,
    /** Closes stdin (the program stops, flushing its exports) and waits for its exit. */
    async stop(): Promise<string> {
      await child.stdin.close();
      await lines.cancel();
      const stderr = await stderrOf(child);
      await child.status;
      return stderr;
    },
  };
}

async function stderrOf(child: Deno.ChildProcess): Promise<string> {
  return await new Response(child.stderr).text();
}

/** POSTs JSON to `url + path`; throws with the answer unless it is 2xx. */
export async function post(url: string, path: string, body: unknown): Promise<unknown> {
  const r = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** Whether instance `id`, read through `url`, is in state `state`. */
export async function isIn(url: string, id: string, state: string): Promise<boolean> {
  const info = await (await fetch(`${url}/instances/${id}`)).json();
  return Array.isArray(info.configuration) && info.configuration.includes(state);
}
