// Encodings jose does not offer: base64url is jose's (`base64url` from "jose"); the standard
// alphabet is what MCP payloads and Standard Webhooks use, and hex is for ids and keys.

/** Bytes as standard, padded base64 (RFC 4648 §4), in chunks so large payloads do not overflow the stack. */
export function toBase64(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (let i = 0; i < view.length; i += 0x8000) {
    binary += String.fromCharCode(...view.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Standard base64 back to bytes; throws on text that is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/** Bytes as lowercase hex. */
export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  let hex = "";
  for (const byte of bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)) {
    hex += byte.toString(16).padStart(2, "0");
  }
  return hex;
}
