// Run by chaos_test.ts as a child process: can another process read and write the Deno KV file
// at Deno.args[0] now? Prints "read" once a read returned and "write" once a write committed;
// the test kills it when neither comes in time (a process stopped while holding SQLite's lock
// blocks every other process on the file, reads included).
const kv = await Deno.openKv(Deno.args[0]);
await kv.get(["sc", "cluster"]);
console.log("read");
await kv.set(["statecraft-chaos-probe"], Date.now());
console.log("write");
kv.close();
