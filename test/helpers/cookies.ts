/** Cookies per host name, as a browser keeps them (paths are ignored: every path gets all). */
export class CookieJar {
  readonly #hosts = new Map<string, Map<string, string>>();

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookies = this.#hosts.get(target.hostname);
    if (cookies?.size) {
      headers.set("cookie", [...cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    }
    const response = await fetch(target, { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key = "", ...rest] = attribute.split("=");
        const setting = rest.join("=").trim();
        if (/^\s*max-age$/i.test(key)) return Number(setting) <= 0;
        if (/^\s*expires$/i.test(key)) return Date.parse(setting) <= Date.now();
        return false;
      });
      let jar = this.#hosts.get(target.hostname);
      if (!jar) this.#hosts.set(target.hostname, (jar = new Map()));
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  }

  names(hostname: string): string[] {
    return [...(this.#hosts.get(hostname)?.keys() ?? [])];
  }
}

/** The value of a named field in an HTML form. */
export function formField(html: string, name: string): string | undefined {
  return new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(html)?.[1];
}
