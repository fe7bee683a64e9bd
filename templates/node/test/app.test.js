// Starts the server on a free port and calls a tool through its authorization server, as a
// machine client would (client_credentials): no browser needed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { McpClient, OAuthAuthorizer } from "portcullis/client";
import { serve } from "portcullis/node";
import { createApp } from "../src/app.js";

const SECRET = "test-secret-not-for-production";
let server;
let mcp;

before(async () => {
  server = await serve(createApp({ machineClientSecret: SECRET }), { port: 0 });
  mcp = `${server.url}/mcp`;
});
after(() => server.close());

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
    assert.equal(result.isError, undefined);
    assert.match(result.content[0].text, /^Hello, Ada!/);
  } finally {
    await client.close();
  }
});
