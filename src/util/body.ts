/**
 * Reads a stream to its end as text, or gives up (cancelling it) past `limit` bytes.
 * Undefined when over the limit. One mechanism for every body read from a peer.
 */
export async function readCappedText(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<string | undefined> {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** Whether a declared Content-Length is over a limit (or no number). */
function lengthOver(declared: string, limit: number): boolean {
  const length = Number(declared);
  return !Number.isFinite(length) || length > limit;
}

/** Whether a declared Content-Length is already over a limit. */
export function declaredOver(headers: Headers, limit: number): boolean {
  const declared = headers.get("content-length");
  return declared !== null && lengthOver(declared, limit);
}

/** Reads a request body as text, refusing more than `limit` bytes; undefined when over. */
export async function readBody(request: Request, limit: number): Promise<string | undefined> {
  const declared = request.headers.get("content-length");
  if (declared === null) return readCappedText(request.body, limit);
  if (lengthOver(declared, limit)) return undefined;
  // A declared length within the limit lets the runtime read the body in one go.
  return request.text();
}

/** Whether an Accept header admits a media type, by exact type, `type/*` or `*\/*`. */
export function accepts(header: string | null, type: string): boolean {
  if (!header) return false;
  if (header.includes(type)) return true;
  return header.includes("*/*") || header.includes(`${type.slice(0, type.indexOf("/"))}/*`);
}
