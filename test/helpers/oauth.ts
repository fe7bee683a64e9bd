import { expect } from "vitest";

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** A browser stand-in: follows nothing by itself, keeps cookies per host. */
export class Browser {
  readonly #cookies = new Map<string, string>();
  readonly #fetch: Fetch;

  /** `fetcher`: where requests go, e.g. a Worker's `SELF.fetch` in workerd tests. */
  constructor(fetcher: Fetch = (input, init) => fetch(input, init)) {
    this.#fetch = fetcher;
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const jar = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    if (jar) headers.set("cookie", jar);
    const response = await this.#fetch(url, { ...init, headers, redirect: "manual" });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const eq = pair!.indexOf("=");
      this.#cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return response;
  }

  /** Submits a form found in an HTML page, with some fields overridden. */
  async submit(base: string, html: string, fields: Record<string, string> = {}): Promise<Response> {
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    expect(action).toBeTruthy();
    const form = new URLSearchParams();
    for (const match of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
      form.set(match[1]!, decodeEntities(match[2]!));
    }
    for (const [key, value] of Object.entries(fields)) form.set(key, value);
    return this.fetch(new URL(action!, base).href, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
  }
}

function decodeEntities(text: string): string {
  return text
    .replace(/&amp;/g, "&")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">");
}

export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const verifier = Buffer.from(bytes).toString("base64url");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return { verifier, challenge: Buffer.from(digest).toString("base64url") };
}

export function form(values: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(values).toString(),
  };
}

export interface Authorized {
  clientId: string;
  code: string;
  verifier: string;
  redirectUri: string;
  location: URL;
}

/**
 * Registers a public client and walks the authorization code flow through dev login and
 * consent, as a person in a browser would. Returns the code at the redirect URI.
 */
export async function authorizeWithDevLogin(
  base: string,
  options: {
    scope?: string;
    resource?: string;
    user?: string;
    browser?: Browser;
    /** Where requests go; default the global fetch. */
    fetch?: Fetch;
    /** More authorization request parameters (e.g. dpop_jkt). */
    params?: Record<string, string>;
  } = {},
): Promise<Authorized> {
  const send: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const redirectUri = "http://127.0.0.1:9/callback";
  const registered = await send(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
      client_name: "Test Client",
    }),
  });
  expect(registered.status).toBe(201);
  const { client_id: clientId } = (await registered.json()) as { client_id: string };
  const { verifier, challenge } = await pkce();
  const browser = options.browser ?? new Browser(send);
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "xyz",
    resource: options.resource ?? `${base}/mcp`,
  });
  if (options.scope !== undefined) query.set("scope", options.scope);
  for (const [name, value] of Object.entries(options.params ?? {})) query.set(name, value);
  let response = await browser.fetch(`${base}/authorize?${query}`);
  if (response.status === 200 && (await peekLogin(response))) {
    const html = await response.text();
    response = await browser.submit(base, html, { username: options.user ?? "alice" });
    expect(response.status).toBe(303);
    response = await browser.fetch(new URL(response.headers.get("location")!, base).href);
  }
  if (response.status === 200) {
    const html = await response.text();
    expect(html).toContain("Test Client");
    response = await browser.submit(base, html, { decision: "allow" });
  }
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get("location")!);
  const code = location.searchParams.get("code");
  expect(code).toBeTruthy();
  return { clientId, code: code!, verifier, redirectUri, location };
}

/** Redeems an authorization code at `base`'s token endpoint; the access token. */
export async function redeemCode(
  base: string,
  grant: { clientId: string; code: string; verifier: string; redirectUri: string },
  resource: string,
): Promise<string> {
  const response = await fetch(
    `${base}/token`,
    form({
      grant_type: "authorization_code",
      code: grant.code,
      code_verifier: grant.verifier,
      client_id: grant.clientId,
      redirect_uri: grant.redirectUri,
      resource,
    }),
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function peekLogin(response: Response): Promise<boolean> {
  const copy = response.clone();
  return (await copy.text()).includes('name="username"');
}
