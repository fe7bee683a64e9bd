/**
 * The paths the authorization server answers, as Hono patterns that never overlap (a request
 * matching two would pass the same step twice). "/x/*" matches "/x" too.
 */
export function ownPaths(issuerPath: string): string[] {
  const paths = [
    "/.well-known/oauth-authorization-server/*",
    "/.well-known/openid-configuration/*",
    "/.well-known/jwks.json",
    "/register",
    "/token",
    "/revoke",
    "/introspect",
    "/authorize",
    "/consent",
    "/login/*",
  ];
  const nested = `${issuerPath}/.well-known/openid-configuration`;
  if (
    issuerPath &&
    !paths.some((path) => path.endsWith("/*") && nested.startsWith(path.slice(0, -1)))
  )
    paths.push(nested);
  return paths;
}
