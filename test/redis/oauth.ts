/**
 * The authorization code flow with each step on an instance of the test's choosing. Builds on
 * test/helpers/oauth.ts (Browser, pkce, form); the instances all answer as PUBLIC, so URLs
 * the server hands out are mapped back onto the instance that should get the next step.
 */
import { expect } from "vitest";
import { Browser, form, pkce } from "../helpers/oauth.ts";

export const PUBLIC_HOST = "127.0.0.1:9";
export const PUBLIC = `http://${PUBLIC_HOST}`;
export const RESOURCE = `${PUBLIC}/mcp`;
export const REDIRECT_URI = "http://127.0.0.1:9/callback";

/** A URL the server handed out (absolute on PUBLIC, or relative), on `instance` instead. */
export function on(instance: string, url: string): string {
  const parsed = new URL(url, PUBLIC);
  return parsed.origin === PUBLIC ? `${instance}${parsed.pathname}${parsed.search}` : parsed.href;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export async function register(instance: string, rateKey = "flow"): Promise<Response> {
  return fetch(`${instance}/register`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-rate-key": rateKey },
    body: JSON.stringify({
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
      client_name: "Multi-instance client",
    }),
  });
}

/** Registers on one instance, and authorizes (login, consent) on another; returns the code. */
export async function authorizeAcross(
  registerOn: string,
  authorizeOn: string,
  user = "alice",
): Promise<{ clientId: string; code: string; verifier: string }> {
  const registered = await register(registerOn);
  expect(registered.status).toBe(201);
  const { client_id: clientId } = (await registered.json()) as { client_id: string };
  const { verifier, challenge } = await pkce();
  const browser = new Browser();
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "multi",
    resource: RESOURCE,
  });
  let response = await browser.fetch(`${authorizeOn}/authorize?${query}`);
  let html = await response.text();
  if (response.status === 200 && html.includes('name="username"')) {
    response = await browser.submit(authorizeOn, html, { username: user });
    expect(response.status).toBe(303);
    response = await browser.fetch(on(authorizeOn, response.headers.get("location")!));
    html = await response.text();
  }
  if (response.status === 200) {
    expect(html).toContain("Multi-instance client");
    response = await browser.submit(authorizeOn, html, { decision: "allow" });
  }
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get("location")!);
  expect(location.searchParams.get("iss")).toBe(PUBLIC);
  const code = location.searchParams.get("code");
  expect(code).toBeTruthy();
  return { clientId, code: code!, verifier };
}

export function redeem(
  instance: string,
  code: { clientId: string; code: string; verifier: string },
): Promise<Response> {
  return fetch(
    `${instance}/token`,
    form({
      grant_type: "authorization_code",
      code: code.code,
      code_verifier: code.verifier,
      client_id: code.clientId,
      redirect_uri: REDIRECT_URI,
      resource: RESOURCE,
    }),
  );
}

export function refresh(
  instance: string,
  clientId: string,
  refreshToken: string,
): Promise<Response> {
  return fetch(
    `${instance}/token`,
    form({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId }),
  );
}
