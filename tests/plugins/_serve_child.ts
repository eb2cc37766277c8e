/**
 * An HTTP server for the plugin network tests, in its own process (the test task has no net
 * permission): prints `{"port": n}`, answers every request with "hello from the host", and
 * shuts down when its stdin closes.
 *
 * Run: `deno run --allow-net=127.0.0.1 tests/plugins/_serve_child.ts`
 *
 * @module
 */
const server = Deno.serve(
  {
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(JSON.stringify({ port })),
  },
  () => new Response("hello from the host"),
);
for await (const _ of Deno.stdin.readable) {
  // Nothing to read: the parent closes stdin to stop the server.
}
await server.shutdown();
