// GET /metrics of a node in cluster mode: the cluster's series, labelled with the node.
import assert from "node:assert/strict";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { createApp } from "../../lib/server/app.ts";
import { waitFor } from "../_wait.ts";

Deno.test("metrics: a cluster node exports its partitions, takeovers and forwards", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-cluster-metrics-" });
  const rt = await Runtime.open({
    kv: `${dir}/state.kv`,
    machines: [],
    noPlugins: true,
    cluster: { node: "m1", partitions: 4, leaseMs: 2000 },
    log: () => {},
  });
  try {
    const app = createApp(rt);
    const text = await waitFor("the node to own its partitions", async () => {
      const body = await (await app.request("/metrics")).text();
      return body.includes('statecraft_cluster_partitions_owned{node="m1"} 4') ? body : undefined;
    });
    for (
      const name of [
        "takeovers_total",
        "partitions_lost_total",
        "fenced_commits_total",
        "forwarded_total",
        "served_total",
      ]
    ) {
      assert.match(text, new RegExp(`^statecraft_cluster_${name}\\{node="m1"\\} \\d+$`, "m"));
    }
    assert.match(text, /^# TYPE statecraft_cluster_partitions_owned gauge$/m);
    assert.match(text, /^# TYPE statecraft_cluster_forwarded_total counter$/m);
  } finally {
    await rt.close();
    await Deno.remove(dir, { recursive: true });
  }
});
