import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { IssuerRecord, TokenStore } from "../client/oauth/store.ts";
import { PortcullisError } from "../util/errors.ts";

/** Why the token file could not be read. */
export class TokenStoreError extends PortcullisError {
  declare readonly code: "ERR_TOKEN_STORE_KEY" | "ERR_TOKEN_STORE_CORRUPT";

  constructor(code: TokenStoreError["code"], message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "TokenStoreError";
  }
}

export interface FileTokenStoreOptions {
  /**
   * The secret the file is encrypted with: exactly 32 random bytes, or a passphrase (stretched
   * with scrypt). Keep it somewhere other than the file, e.g. the OS keychain or an
   * environment variable.
   */
  key: string | Uint8Array;
}

interface Envelope {
  format: "portcullis-tokens";
  version: 1;
  kdf: "raw" | "scrypt";
  salt: string;
  iv: string;
  data: string;
}

const AAD = Buffer.from("portcullis-tokens/1");

function deriveKey(
  secret: string | Uint8Array,
  kdf: Envelope["kdf"],
  salt: Buffer,
): Promise<Buffer> {
  if (kdf === "raw") {
    if (typeof secret === "string" || secret.byteLength !== 32) {
      throw new TokenStoreError("ERR_TOKEN_STORE_KEY", "The file was written with a 32-byte key");
    }
    return Promise.resolve(Buffer.from(secret));
  }
  return new Promise((resolve, reject) => {
    scrypt(
      typeof secret === "string" ? secret : Buffer.from(secret),
      salt,
      32,
      { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/**
 * A TokenStore in one file, encrypted with AES-256-GCM and readable by its owner only (mode
 * 0600, in a directory created 0700). Each write replaces the file atomically. Several
 * processes may share the file; the last write wins, so one that refreshes a token at the
 * same moment as another may make the other sign in again, never lose the file.
 */
export function fileTokenStore(path: string, options: FileTokenStoreOptions): TokenStore {
  const secret = options.key;
  if (typeof secret === "string" ? secret.length === 0 : secret.byteLength === 0) {
    throw new TypeError("fileTokenStore needs a non-empty key");
  }
  const kdf: Envelope["kdf"] =
    typeof secret !== "string" && secret.byteLength === 32 ? "raw" : "scrypt";
  /** Derived keys by salt: scrypt is slow on purpose, once per file is enough. */
  const keys = new Map<string, Promise<Buffer>>();
  const keyFor = (envelopeKdf: Envelope["kdf"], salt: Buffer) => {
    const id = `${envelopeKdf}:${salt.toString("base64url")}`;
    let key = keys.get(id);
    if (!key) {
      key = deriveKey(secret, envelopeKdf, salt);
      keys.set(id, key);
    }
    return key;
  };
  let salt: Buffer | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  async function load(): Promise<Record<string, IssuerRecord>> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw error;
    }
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch (cause) {
      throw new TokenStoreError("ERR_TOKEN_STORE_CORRUPT", `${path} is not a token file`, {
        cause,
      });
    }
    if (envelope.format !== "portcullis-tokens" || envelope.version !== 1) {
      throw new TokenStoreError("ERR_TOKEN_STORE_CORRUPT", `${path} is not a token file`);
    }
    const fileSalt = Buffer.from(envelope.salt, "base64url");
    salt = fileSalt;
    const key = await keyFor(envelope.kdf, fileSalt);
    const sealed = Buffer.from(envelope.data, "base64url");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(envelope.iv, "base64url"));
      decipher.setAAD(AAD);
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - 16)),
        decipher.final(),
      ]);
      return JSON.parse(plain.toString("utf8")) as Record<string, IssuerRecord>;
    } catch (cause) {
      throw new TokenStoreError(
        "ERR_TOKEN_STORE_KEY",
        `${path} cannot be decrypted: wrong key, or the file was changed`,
        { cause },
      );
    }
  }

  async function save(records: Record<string, IssuerRecord>): Promise<void> {
    salt ??= randomBytes(16);
    const key = await keyFor(kdf, salt);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(AAD);
    const data = Buffer.concat([
      cipher.update(JSON.stringify(records), "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    const envelope: Envelope = {
      format: "portcullis-tokens",
      version: 1,
      kdf,
      salt: salt.toString("base64url"),
      iv: iv.toString("base64url"),
      data: data.toString("base64url"),
    };
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      // A new file made 0600 and renamed over the old one: the result is never readable by
      // others, not even for a moment, whatever mode an older file had.
      await writeFile(temporary, JSON.stringify(envelope), { mode: 0o600, flag: "wx" });
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  /** Runs read-modify-write steps one after another within this process. */
  function serial<T>(run: () => Promise<T>): Promise<T> {
    const next = queue.then(run, run);
    queue = next.catch(() => undefined);
    return next;
  }

  return {
    get(issuer) {
      return serial(async () => {
        const records = await load();
        return records[issuer];
      });
    },
    set(issuer, record) {
      return serial(async () => {
        const records = await load();
        if (record === undefined) delete records[issuer];
        else records[issuer] = record;
        await save(records);
      });
    },
  };
}
