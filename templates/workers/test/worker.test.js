// Starts the Worker under `wrangler dev` on a free port and calls a tool through its
// authorization server, as a machine client would (client_credentials): no browser needed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { McpClient, OAuthAuthorizer } from "portcullis/client";

const SECRET = "test-secret-not-for-production";
let wrangler;
let mcp;

/** wrangler's own script, run by this node: stopping it stops workerd too (npx would not). */
function wranglerScript() {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve("wrangler/package.json");
  return join(dirname(manifest), require(manifest).bin.wrangler);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

before(async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  wrangler = spawn(
    process.execPath,
    [
      wranglerScript(),
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--var",
      `ISSUER:${base}`,
      "--var",
      `MACHINE_CLIENT_SECRET:${SECRET}`,
      "--persist-to",
      ".wrangler/test-state",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  let output = "";
  await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      if (/Ready on http/.test(output)) resolve();
    };
    wrangler.stdout.on("data", onData);
    wrangler.stderr.on("data", onData);
    wrangler.once("exit", (code) => reject(new Error(`wrangler dev exited (${code}):\n${output}`)));
  });
  mcp = `${base}/mcp`;
});

after(async () => {
  if (!wrangler || wrangler.exitCode !== null) return;
  const exited = new Promise((resolve) => wrangler.once("exit", resolve));
  wrangler.kill("SIGINT");
  await exited;
});

test("/mcp refuses a request without a token", async () => {
  const response = await fetch(mcp, { method: "POST", body: "{}" });
  assert.equal(response.status, 401);
});

test("a signed-in client calls greet", async () => {
  const client = new McpClient({ name: "test", version: "1.0.0" });
  await client.connect(mcp, {
    authorizer: new OAuthAuthorizer({
      client: { clientId: "machine", clientSecret: SECRET },
      clientCredentials: true,
    }),
  });
  try {
    const result = await client.callTool("greet", { name: "Ada" });
    assert.match(result.content[0].text, /^Hello, Ada!/);
  } finally {
    await client.close();
  }
});
