/**
 * The client the official MCP conformance suite runs (`conformance client --command
 * "npx tsx examples/conformance-client.ts"`), written on the public API only. The suite
 * starts a test server per scenario and runs this file with the server's URL as the last
 * argument; the scenario's name is in MCP_CONFORMANCE_SCENARIO, credentials for the
 * scenarios that need them in MCP_CONFORMANCE_CONTEXT (JSON), and the 0.2 suites name the
 * protocol revision in MCP_CONFORMANCE_PROTOCOL_VERSION.
 *
 * Authorization scenarios use OAuthAuthorizer. There is no person: a headless redirect
 * handler follows the suite's authorization server, which approves at once and redirects to
 * our (never contacted) redirect URI.
 *
 *   MCP_CONFORMANCE_SCENARIO=auth/metadata-default npx tsx examples/conformance-client.ts http://localhost:3000/mcp
 */
import { importPKCS8 } from "jose";
import {
  type AssertionContext,
  CLIENT_VERSIONS,
  type ElicitationRequest,
  headlessRedirect,
  McpClient,
  OAuthAuthorizer,
  type OAuthAuthorizerOptions,
  Skills,
} from "../src/client/index.ts";
import type { ElicitResult, JsonObject } from "../src/index.ts";

/** The client id metadata document URL the suite's CIMD scenario expects. */
const CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json";
const REDIRECT_URI = "http://localhost:3000/callback";

type Context = Record<string, string | undefined>;
/** A call a scenario asks for by name, with the arguments it wants to see (2026-07-28 suites). */
interface ToolCall {
  name: string;
  arguments: JsonObject;
}

function rawContext(): Record<string, unknown> {
  const raw = process.env.MCP_CONFORMANCE_CONTEXT;
  const value: unknown = raw ? JSON.parse(raw) : {};
  return value && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The string-valued entries of the scenario's context (credentials and endpoints). */
function context(): Context {
  const ctx: Context = {};
  for (const [key, value] of Object.entries(rawContext())) {
    if (typeof value === "string") ctx[key] = value;
  }
  return ctx;
}

/** The calls the scenario's context names, if it names any. */
function scriptedCalls(): ToolCall[] | undefined {
  const calls = rawContext().toolCalls;
  if (!Array.isArray(calls)) return undefined;
  return calls.map((call: { name?: unknown; arguments?: unknown }) => {
    if (typeof call?.name !== "string") throw new Error("A scripted tool call has no name");
    const args = call.arguments;
    return {
      name: call.name,
      arguments:
        args && typeof args === "object" && !Array.isArray(args) ? (args as JsonObject) : {},
    };
  });
}

function required(ctx: Context, key: string): string {
  const value = ctx[key];
  if (!value) throw new Error(`MCP_CONFORMANCE_CONTEXT has no ${key}`);
  return value;
}

function newClient(): McpClient {
  const wanted = process.env.MCP_CONFORMANCE_PROTOCOL_VERSION;
  return new McpClient({
    name: "portcullis-conformance-client",
    version: "1.0.0",
    ...(wanted && CLIENT_VERSIONS.includes(wanted) && { protocolVersion: wanted }),
    // Form elicitation is declared everywhere: 2026-07-28 servers ask for it mid-call (MRTR).
    handlers: { elicitation: acceptWithDefaults },
  });
}

/** Accepts a form, filling every field the person "left empty" with the schema's default. */
async function acceptWithDefaults(request: ElicitationRequest): Promise<ElicitResult> {
  if (request.mode !== "form") return { action: "decline" };
  const content: JsonObject = {};
  const properties = request.requestedSchema.properties;
  if (properties && typeof properties === "object" && !Array.isArray(properties)) {
    for (const [name, schema] of Object.entries(properties)) {
      if (schema && typeof schema === "object" && !Array.isArray(schema) && "default" in schema) {
        content[name] = schema.default as JsonObject[string];
      }
    }
  }
  return { action: "accept", content };
}

/** The suite's authorization server approves at once: its redirect is the answer. */
const followRedirect = headlessRedirect(
  async (url) => {
    const response = await fetch(url, { redirect: "manual" });
    const location = response.headers.get("location");
    if (!location) throw new Error(`The authorization endpoint answered ${response.status}`);
    return new URL(location, url);
  },
  { redirectUri: REDIRECT_URI },
);

async function authorizerFor(scenario: string, ctx: Context): Promise<OAuthAuthorizer> {
  const options: OAuthAuthorizerOptions = {
    redirect: followRedirect,
    clientMetadataUrl: CLIENT_METADATA_URL,
    clientMetadata: { client_name: "portcullis-conformance-client" },
  };
  switch (scenario) {
    case "auth/pre-registration":
      options.client = {
        clientId: required(ctx, "client_id"),
        clientSecret: required(ctx, "client_secret"),
      };
      break;
    case "auth/client-credentials-basic":
      options.client = {
        clientId: required(ctx, "client_id"),
        clientSecret: required(ctx, "client_secret"),
      };
      options.clientCredentials = true;
      break;
    case "auth/client-credentials-jwt": {
      const alg = ctx.signing_algorithm ?? "ES256";
      options.client = {
        clientId: required(ctx, "client_id"),
        privateKey: await importPKCS8(required(ctx, "private_key_pem"), alg),
      };
      options.clientCredentials = true;
      break;
    }
    case "auth/wif-jwt-bearer": {
      // Workload identity federation: the workload's own JWT is the grant (RFC 7523).
      const assertion = required(ctx, "valid_jwt");
      options.client = { clientId: required(ctx, "client_id") };
      options.assertion = async () => assertion;
      break;
    }
    case "auth/dpop":
    case "auth/dpop-nonce":
      // Sender-constrained tokens (RFC 9449): opt-in, as for any client of ours.
      options.dpop = true;
      break;
    case "auth/cross-app-access-complete-flow":
    case "auth/enterprise-managed-authorization":
      options.client = {
        clientId: required(ctx, "client_id"),
        clientSecret: required(ctx, "client_secret"),
      };
      options.assertion = (request) => identityAssertion(ctx, request);
      break;
  }
  return new OAuthAuthorizer(options);
}

/**
 * Enterprise-managed authorization (SEP-990): trade the identity provider's ID token for an
 * ID-JAG naming the MCP server's authorization server and resource (RFC 8693); the
 * authorizer then presents it with the JWT bearer grant (RFC 7523).
 */
async function identityAssertion(ctx: Context, request: AssertionContext): Promise<string> {
  const response = await fetch(required(ctx, "idp_token_endpoint"), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      requested_token_type: "urn:ietf:params:oauth:token-type:id-jag",
      subject_token: required(ctx, "idp_id_token"),
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
      audience: request.issuer,
      resource: request.resource,
      client_id: required(ctx, "idp_client_id"),
      ...(request.scope && { scope: request.scope }),
    }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok || typeof body.access_token !== "string") {
    throw new Error(`The token exchange failed: ${JSON.stringify(body)}`);
  }
  return body.access_token;
}

/**
 * Waits until this process gets the CPU when it asks for it: the suite starts every scenario's
 * client at once, and on a small machine their start-up can delay a timer by a second. Only
 * sse-retry measures timing (the client must reconnect `retry` ms after the stream ends), so
 * it waits for the storm to pass rather than be measured in it; nothing else does.
 */
async function settle(): Promise<void> {
  // Half a second of timers firing on time, or 45 s at most (the script allows 90 s a run).
  const deadline = Date.now() + 45_000;
  let calm = 0;
  while (calm < 25 && Date.now() < deadline) {
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    calm = performance.now() - started < 30 ? calm + 1 : 0;
  }
}

/**
 * Arguments for a test server's tool: none, except for the one that adds and the one that
 * echoes another tool's inputSchema back (to show the client kept every keyword of it).
 */
function argumentsFor(name: string, tools: readonly { name: string; inputSchema: JsonObject }[]) {
  if (name === "add_numbers") return { a: 5, b: 3 };
  if (name === "json_schema_echo") {
    const focal = tools.find((tool) => tool.name === "json_schema_2020_12_tool");
    return focal ? { schema: focal.inputSchema } : {};
  }
  return {};
}

/**
 * A host's use of the Skills extension: list the skills (no file fetched), and except in
 * the no-prefetch scenario load the first one and read the file its SKILL.md points to. A
 * tampered SKILL.md fails verification: the run ends with ERR_SKILL_VERIFICATION and the
 * supporting file is never read.
 */
async function skillsFlow(scenario: string, client: McpClient): Promise<void> {
  const skills = new Skills(client);
  const [entry] = await skills.list();
  if (!entry || scenario === "sep-2640-client-no-prefetch") return;
  const skill = await skills.load(entry);
  await skills.read(skill, "references/FORMS.md");
}

async function run(scenario: string, url: string): Promise<void> {
  if (scenario === "sse-retry") await settle();
  const client = newClient();
  const authorizer = scenario.startsWith("auth/")
    ? await authorizerFor(scenario, context())
    : undefined;
  await client.connect(url, authorizer ? { authorizer } : {});
  try {
    if (scenario.startsWith("sep-2640-client-")) return await skillsFlow(scenario, client);
    const { tools } = await client.listTools();
    // These two scenarios ask for the listing only (the second serves no tools/call).
    if (scenario === "initialize" || scenario === "json-schema-ref-no-deref") return;
    const calls =
      scriptedCalls() ??
      tools.map((tool) => ({ name: tool.name, arguments: argumentsFor(tool.name, tools) }));
    for (const call of calls) await client.callTool(call.name, call.arguments);
  } finally {
    await client.close();
  }
}

const scenario = process.env.MCP_CONFORMANCE_SCENARIO;
const url = process.argv.at(-1);
if (!scenario || !url || !URL.canParse(url)) {
  console.error("Usage: MCP_CONFORMANCE_SCENARIO=<name> conformance-client.ts <server-url>");
  process.exit(2);
}
// The last line says how the run ended, for scripts/conformance-client.sh: scenarios that
// test a refusal must fail with the refusal they test, not with anything else.
run(scenario, url).then(
  () => {
    console.log("conformance-client: ok");
    process.exit(0);
  },
  (error: unknown) => {
    console.error(`${scenario}:`, error);
    const code =
      error instanceof Error && "code" in error && typeof error.code === "string"
        ? error.code
        : "unknown";
    console.log(`conformance-client: error ${code}`);
    process.exit(1);
  },
);
