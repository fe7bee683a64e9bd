import { base64url } from "jose";

const encoder = new TextEncoder();

/**
 * Authenticated encryption (AES-256-GCM) with a key derived from a secret and a purpose, for
 * data that leaves the server and must come back unread and unaltered.
 */
export class Sealer {
  readonly #key: Promise<CryptoKey>;

  constructor(secret: string | Uint8Array, purpose: string) {
    this.#key = (async () => {
      const raw = typeof secret === "string" ? encoder.encode(secret) : secret;
      const material = await crypto.subtle.importKey(
        "raw",
        raw as Uint8Array<ArrayBuffer>,
        "HKDF",
        false,
        ["deriveKey"],
      );
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(purpose) },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
  }

  async seal(plaintext: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv },
      await this.#key,
      encoder.encode(plaintext),
    );
    return `${base64url.encode(iv)}.${base64url.encode(new Uint8Array(data))}`;
  }

  /** The plaintext, or undefined when the box was not sealed with this key or was altered. */
  async open(sealed: string): Promise<string | undefined> {
    const [iv, data, extra] = sealed.split(".");
    if (!iv || !data || extra !== undefined) return undefined;
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: base64url.decode(iv) as Uint8Array<ArrayBuffer> },
        await this.#key,
        base64url.decode(data) as Uint8Array<ArrayBuffer>,
      );
      return new TextDecoder().decode(plain);
    } catch {
      return undefined;
    }
  }
}
