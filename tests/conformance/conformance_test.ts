/**
 * The W3C conformance suite must not regress: every test listed in expected_passes.txt must
 * still pass. The runner runs in a subprocess because the Basic HTTP tests need loopback
 * network access, which the normal test permissions do not grant.
 */

Deno.test("W3C SCXML conformance: no test on the expected-pass list fails", async () => {
  const here = new URL(".", import.meta.url);
  const expected = (await Deno.readTextFile(new URL("expected_passes.txt", here)))
    .split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-read",
      "--allow-net=127.0.0.1",
      new URL("run.ts", here).pathname,
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`the conformance runner failed:\n${stderr}`);
  const results = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    id: string;
    passed: boolean;
    reason: string;
  }[];
  const byId = new Map(results.map((r) => [r.id, r]));
  const regressions = expected.filter((id) => byId.get(id)?.passed !== true).map((id) =>
    `${id}: ${byId.get(id)?.reason ?? "not run"}`
  );
  if (regressions.length > 0) {
    throw new Error(`conformance regressions:\n${regressions.join("\n")}`);
  }
});
