/** Reads a request body as text, refusing more than `limit` bytes; undefined when over. */
export async function readBody(request: Request, limit: number): Promise<string | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    const length = Number(declared);
    if (!Number.isFinite(length) || length > limit) return undefined;
    return request.text();
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
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

/** Whether an Accept header admits a media type, by exact type, `type/*` or `*\/*`. */
export function accepts(header: string | null, type: string): boolean {
  if (!header) return false;
  if (header.includes(type)) return true;
  return header.includes("*/*") || header.includes(`${type.slice(0, type.indexOf("/"))}/*`);
}
