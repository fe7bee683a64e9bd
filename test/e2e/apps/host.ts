/**
 * A web host for MCP Apps, bundled into the test's host page: our McpClient finds a tool's
 * view and calls the server; the official AppBridge of @modelcontextprotocol/ext-apps talks to
 * the view in a sandboxed iframe, under a CSP built from the view's `_meta.ui`, and forwards
 * its tool calls to the server only for tools whose visibility includes "app".
 */
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
import {
  McpClient,
  readToolUi,
  type Tool,
  toolVisibility,
  type UiResourceMeta,
} from "../../../src/client/index.ts";

export interface HostOutcome {
  protocolVersion: string | undefined;
  modelTools: string[];
  uri: string;
  csp: string;
  context: unknown[];
  refusedCalls: string[];
}

/** The CSP a host puts on a view: the spec's restrictive default, widened only as declared. */
function policy(meta: UiResourceMeta): string {
  const csp = meta.csp ?? {};
  const resources = (csp.resourceDomains ?? []).join(" ");
  const connect = (csp.connectDomains ?? []).join(" ");
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline' ${resources}`.trim(),
    `style-src 'self' 'unsafe-inline' ${resources}`.trim(),
    `img-src 'self' data: ${resources}`.trim(),
    `connect-src ${connect || "'none'"}`,
    `frame-src ${(csp.frameDomains ?? []).join(" ") || "'none'"}`,
    "object-src 'none'",
    `base-uri ${(csp.baseUriDomains ?? []).join(" ") || "'self'"}`,
  ].join("; ");
}

async function runHost(options: {
  endpoint: string;
  token: string;
  protocolVersion?: string;
}): Promise<HostOutcome> {
  const client = new McpClient({
    name: "browser-host",
    version: "1.0.0",
    apps: true,
    ...(options.protocolVersion ? { protocolVersion: options.protocolVersion } : {}),
  });
  await client.connect(options.endpoint, {
    headers: { authorization: `Bearer ${options.token}` },
  });
  const tools = new Map<string, Tool>();
  for await (const tool of client.tools()) tools.set(tool.name, tool);
  const modelTools = [...tools.values()]
    .filter((tool) => toolVisibility(tool).includes("model"))
    .map((tool) => tool.name);

  // The model calls the tool; the host then renders its view with the result.
  const ui = await readToolUi(client, "show_counter");
  if (!ui) throw new Error("show_counter has no view");
  const first = await client.callTool("show_counter", {});

  const outcome: HostOutcome = {
    protocolVersion: client.protocolVersion,
    modelTools,
    uri: ui.uri,
    csp: policy(ui.meta),
    context: [],
    refusedCalls: [],
  };
  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  document.body.append(iframe);
  const view = iframe.contentWindow;
  if (!view) throw new Error("no iframe window");

  const bridge = new AppBridge(
    null,
    { name: "browser-host", version: "1.0.0" },
    { serverTools: {}, updateModelContext: { structuredContent: {} } },
    { hostContext: { toolInfo: { tool: ui.tool as never }, theme: "light" } },
  );
  bridge.oncalltool = async (params) => {
    const tool = tools.get(params.name);
    if (!tool || !toolVisibility(tool).includes("app")) {
      outcome.refusedCalls.push(params.name);
      throw new Error(`The tool ${params.name} is not open to apps`);
    }
    return (await client.callTool(params.name, params.arguments ?? {})) as never;
  };
  bridge.onupdatemodelcontext = async (params) => {
    outcome.context.push(params.structuredContent);
    return {};
  };
  const initialized = new Promise<void>((resolve) => {
    bridge.oninitialized = () => resolve();
  });
  await bridge.connect(new PostMessageTransport(view, view));
  const meta = `<meta http-equiv="Content-Security-Policy" content="${outcome.csp}">`;
  iframe.srcdoc = ui.html.replace("<head>", `<head>${meta}`);
  await initialized;
  await bridge.sendToolInput({ arguments: {} });
  await bridge.sendToolResult(first as never);
  (window as unknown as { hostOutcome: HostOutcome }).hostOutcome = outcome;
  return outcome;
}

(window as unknown as { runHost: typeof runHost }).runHost = runHost;
