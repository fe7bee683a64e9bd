// Preloaded into the conformance CLI (node --require): every server it starts without naming
// a host listens on 127.0.0.1 instead of all interfaces. The CLI's client-mode test servers
// call listen(0) with no host, and the CLI has no option to change that; their URLs say
// "localhost", which reaches 127.0.0.1 just the same.
"use strict";
const dns = require("node:dns");
const net = require("node:net");

const LOOPBACK = "127.0.0.1";
const listen = net.Server.prototype.listen;

/** The arguments with 127.0.0.1 as the host, or undefined when they already name one. */
function withLoopback(args) {
  const [first] = args;
  if (first !== null && typeof first === "object") {
    // listen(options[, callback]); a handle or a socket path is left alone.
    if ("_handle" in first || "fd" in first || first.path !== undefined) return undefined;
    if (first.host !== undefined) return undefined;
    return [{ ...first, host: LOOPBACK }, ...args.slice(1)];
  }
  if (first === undefined || typeof first === "function") {
    // listen() or listen(callback): any port.
    return [0, LOOPBACK, ...args.slice(first === undefined ? 1 : 0)];
  }
  if (typeof first === "number" || /^\d+$/.test(String(first))) {
    // listen(port[, host][, backlog][, callback])
    if (typeof args[1] === "string") return undefined;
    return [first, LOOPBACK, ...args.slice(1)];
  }
  return undefined;
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const changed = withLoopback(args);
  if (!changed) return listen.apply(this, args);
  // With a host, Node looks it up before binding, so the port would be unknown right after
  // listen() returns; the test servers read it at once. Answer the lookup of our literal
  // address on the spot, for this one call.
  const lookup = dns.lookup;
  dns.lookup = function lookupLiteral(...lookupArgs) {
    const [hostname, options, callback] = lookupArgs;
    const done = typeof options === "function" ? options : callback;
    if (hostname === LOOPBACK && typeof done === "function") {
      if (options !== null && typeof options === "object" && options.all) {
        done(null, [{ address: LOOPBACK, family: 4 }]);
      } else {
        done(null, LOOPBACK, 4);
      }
      return {};
    }
    return lookup.apply(this, lookupArgs);
  };
  // Should Node's internals ever change under this, fail loudly rather than listen widely.
  this.once("listening", () => {
    const bound = this.address();
    if (bound && typeof bound === "object" && bound.address !== LOOPBACK) {
      process.stderr.write(`conformance-loopback: a server bound ${bound.address}; stopping\n`);
      process.exit(70);
    }
  });
  try {
    return listen.apply(this, changed);
  } finally {
    dns.lookup = lookup;
  }
};
