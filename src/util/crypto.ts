import { base64url } from "jose";
import { toHex } from "./bytes.ts";

const encoder = new TextEncoder();

/** A random token with `bytes` bytes of entropy (default 32: 256 bits), base64url. */
export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** 128 random bits as hex: for ids that must not be guessable (sessions, streams). */
export function randomId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** The SHA-256 digest of a string's UTF-8 bytes. */
export async function digest(text: string): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** SHA-256 of a string, base64url. */
export async function sha256(text: string): Promise<string> {
  return base64url.encode(await digest(text));
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
