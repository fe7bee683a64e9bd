/**
 * `portcullis gateway` with the built-in authorization server signing users in at a real
 * OpenID provider (oidc-provider on loopback): by flags, and by the config file's auth.login
 * with the secret from the environment. Mistakes in those settings are usage errors.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, UsageError } from "../../src/node/cli/args.ts";
import { startGatewayCommand } from "../../src/node/cli/gateway.ts";
import { messagesOf } from "../helpers/http.ts";
import {
  type OidcProviderHandle,
  signInThroughProvider,
  startOidcProvider,
} from "../helpers/oidc.ts";
import { EVERYTHING, postToolCall, tempDir } from "./support.ts";

const CLIENT = { clientId: "gateway-at-idp", clientSecret: "a-gateway-client-secret-0123456789" };
const ACCOUNT = { sub: "idp-alice-7", name: "Alice", email: "alice@idp.test" };
const STDIO = `"${process.execPath}" ${EVERYTHING} stdio`;

let provider: OidcProviderHandle;
const callbacks: string[] = [];

beforeAll(async () => {
  provider = await startOidcProvider(ACCOUNT);
});

afterAll(async () => {
  await provider.close();
  expect(provider.errors).toEqual([]);
});

/** Echo through the gateway with a bearer token; the HTTP status and the reply's text. */
async function echo(url: string, token: string): Promise<{ status: number; text: string }> {
  const response = await postToolCall(url, token, "upstream_echo", {
    message: "signed in at the provider",
  });
  if (response.status !== 200) return { status: response.status, text: await response.text() };
  return { status: 200, text: JSON.stringify(await messagesOf(response)) };
}

describe("portcullis gateway with a provider's login", () => {
  it("--oidc-issuer: users sign in at the provider, then call the upstream's tools", async () => {
    const running = await startGatewayCommand(
      undefined,
      parse([
        "--stdio",
        STDIO,
        "--port",
        "0",
        "--oidc-issuer",
        provider.url,
        "--oidc-client-id",
        CLIENT.clientId,
      ]).values,
      { PORTCULLIS_OIDC_CLIENT_SECRET: CLIENT.clientSecret },
    );
    try {
      const base = running.url.replace(/\/mcp$/, "");
      expect(running.signIn).toBe(`sign in at ${provider.url}`);
      expect(running.callback).toBe(`${base}/login/oidc/callback`);
      callbacks.push(running.callback!);
      provider.configure({ ...CLIENT, redirectUris: callbacks });
      // No token: the gateway points at itself as the authorization server, not at dev login.
      const anonymous = await echo(running.url, "not-a-token");
      expect(anonymous.status).toBe(401);
      const devLogin = await fetch(`${base}/login/dev`);
      expect(devLogin.status).toBe(404);
      const token = await signInThroughProvider({
        base,
        provider: provider.url,
        account: ACCOUNT,
        onProviderRedirect(location) {
          expect(location.searchParams.get("client_id")).toBe(CLIENT.clientId);
          expect(location.searchParams.get("redirect_uri")).toBe(running.callback);
        },
      });
      const called = await echo(running.url, token);
      expect(called.status).toBe(200);
      expect(called.text).toContain("signed in at the provider");
    } finally {
      await running.close();
    }
  }, 30_000);

  it("reads auth.login from the config file, its secret from the environment", async () => {
    const file = join(tempDir(), "gateway.json");
    writeFileSync(
      file,
      JSON.stringify({
        upstreams: { upstream: { command: process.execPath, args: [EVERYTHING, "stdio"] } },
        auth: {
          login: {
            provider: "oidc",
            issuer: provider.url,
            clientId: CLIENT.clientId,
            clientSecret: `\${IDP_SECRET}`,
          },
        },
      }),
    );
    const running = await startGatewayCommand(file, parse(["--port", "0"]).values, {
      IDP_SECRET: CLIENT.clientSecret,
    });
    try {
      const base = running.url.replace(/\/mcp$/, "");
      callbacks.push(running.callback!);
      provider.configure({ ...CLIENT, redirectUris: callbacks });
      const token = await signInThroughProvider({ base, provider: provider.url, account: ACCOUNT });
      const called = await echo(running.url, token);
      expect(called.status).toBe(200);
      expect(called.text).toContain("signed in at the provider");
    } finally {
      await running.close();
    }
  }, 30_000);

  it("refuses incomplete or contradictory login settings before starting anything", async () => {
    const flags = (extra: string[]) => parse(["--stdio", STDIO, "--port", "0", ...extra]).values;
    const refusals: [Parameters<typeof startGatewayCommand>[1], Record<string, string>, RegExp][] =
      [
        [flags(["--oidc-issuer", provider.url]), {}, /go together/],
        [
          flags(["--oidc-issuer", provider.url, "--oidc-client-id", "x"]),
          {},
          /PORTCULLIS_OIDC_CLIENT_SECRET/,
        ],
        [
          flags(["--oidc-issuer", "http://idp.example.com", "--oidc-client-id", "x"]),
          { PORTCULLIS_OIDC_CLIENT_SECRET: "s" },
          /https/,
        ],
        [
          flags(["--oidc-issuer", provider.url, "--oidc-client-id", "x", "--issuer", provider.url]),
          { PORTCULLIS_OIDC_CLIENT_SECRET: "s" },
          /Choose one/,
        ],
      ];
    for (const [values, env, message] of refusals) {
      await expect(startGatewayCommand(undefined, values, env)).rejects.toThrow(message);
    }
    const dir = tempDir();
    const configs: [unknown, RegExp][] = [
      [{ provider: "facebook", clientId: "x", clientSecret: "y" }, /must be one of/],
      [{ provider: "oidc", issuer: provider.url, clientId: "x" }, /clientId and clientSecret/],
      [{ issuer: provider.url, clientId: "x", clientSecret: `\${UNSET_SECRET}` }, /UNSET_SECRET/],
      [{ clientId: "x", clientSecret: "y" }, /issuer/],
      ["oidc", /must be a JSON object/],
    ];
    for (const [login, message] of configs) {
      const file = join(dir, "gateway.json");
      writeFileSync(
        file,
        JSON.stringify({
          upstreams: { upstream: { command: process.execPath, args: [EVERYTHING, "stdio"] } },
          auth: { login },
        }),
      );
      const refused = startGatewayCommand(file, parse(["--port", "0"]).values, {});
      await expect(refused).rejects.toBeInstanceOf(UsageError);
      await expect(refused).rejects.toThrow(message);
    }
  });
});
