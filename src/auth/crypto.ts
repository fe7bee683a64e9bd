import { base64url } from "../mcp/sealer.ts";

export { base64url, fromBase64url, Sealer } from "../mcp/sealer.ts";

const encoder = new TextEncoder();

/** A random token with `bytes` bytes of entropy (default 32: 256 bits). */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function sha256(text: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text))));
}

/** Compares two strings in time that does not depend on where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let difference = left.length ^ right.length;
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  }
  return difference === 0;
}

/** The PKCE S256 challenge of a verifier. */
export async function s256(verifier: string): Promise<string> {
  return sha256(verifier);
}
