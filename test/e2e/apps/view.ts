/**
 * The view of the test app, bundled into the ui:// resource's HTML: the official App class of
 * @modelcontextprotocol/ext-apps, talking to its host over postMessage. It shows the result the
 * host hands it, calls an app-only tool on the server through the host, reports the new count
 * back as model context, and tries a model-only tool, which the host must refuse.
 */
import { App, PostMessageTransport } from "@modelcontextprotocol/ext-apps";

function show(id: string, text: string): void {
  const element = document.getElementById(id);
  if (element) element.textContent = text;
}

function textOf(result: { content?: unknown[] }): string {
  const first = result.content?.[0] as { type?: string; text?: string } | undefined;
  return first?.type === "text" ? (first.text ?? "") : JSON.stringify(result);
}

const app = new App({ name: "counter-view", version: "1.0.0" });
app.ontoolinput = (params) => show("input", JSON.stringify(params.arguments ?? {}));
app.ontoolresult = (result) => show("result", textOf(result));

async function main(): Promise<void> {
  await app.connect(new PostMessageTransport(window.parent, window.parent));
  show("host", app.getHostVersion()?.name ?? "?");
  const incremented = await app.callServerTool({ name: "increment", arguments: { by: 2 } });
  const count = (incremented.structuredContent as { count?: number } | undefined)?.count;
  show("count", String(count));
  await app.updateModelContext({ structuredContent: { count } });
  try {
    await app.callServerTool({ name: "reset", arguments: {} });
    show("refused", "not refused");
  } catch (error) {
    show("refused", error instanceof Error ? error.message : String(error));
  }
  show("status", "done");
}

main().catch((error: unknown) => show("status", `failed: ${String(error)}`));
