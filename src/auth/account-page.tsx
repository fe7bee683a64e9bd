/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import { Page } from "./pages.tsx";

/** One client a user approved, as the connected-apps page lists it. */
export interface ConnectedApp {
  clientId: string;
  name: string;
  /** Scopes across its live grants. */
  scopes: string[];
  resources: string[];
  /** Epoch ms of its first live grant; undefined when only a remembered consent is left. */
  approvedAt?: number;
  /** Epoch ms of its last token issuance (code exchange or refresh). */
  lastUsedAt?: number;
}

/** A time as people read it anywhere: UTC, to the minute. */
function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function ConnectedAppsPage(props: {
  userName: string;
  apps: ConnectedApp[];
  action: string;
  csrf: string;
}) {
  return (
    <Page title="Connected apps">
      <h1>Connected apps</h1>
      <p>
        Signed in as <strong>{props.userName}</strong>. These applications may act for you. Revoking
        one ends its access at once; it must ask you again to get it back.
      </p>
      {props.apps.length === 0 ? <p>No application has access.</p> : null}
      {props.apps.map((app) => (
        <section class="app" data-client-id={app.clientId}>
          <h2>{app.name}</h2>
          <ul>
            <li>
              Access:{" "}
              {app.scopes.length ? app.scopes.map((scope) => <code>{scope}</code>) : "basic access"}
            </li>
            {app.resources.map((resource) => (
              <li>
                For: <code>{resource}</code>
              </li>
            ))}
            <li>Approved: {app.approvedAt === undefined ? "remembered" : when(app.approvedAt)}</li>
            <li>
              Last used: {app.lastUsedAt === undefined ? "no active tokens" : when(app.lastUsedAt)}
            </li>
          </ul>
          <form method="post" action={props.action}>
            <input type="hidden" name="client_id" value={app.clientId} />
            <input type="hidden" name="csrf" value={props.csrf} />
            <button type="submit">Revoke {app.name}</button>
          </form>
        </section>
      ))}
    </Page>
  );
}
