// Cloudflare Workers entry: the demo app as a Worker, unchanged.
import { app } from "../demo/server.ts";

export default app;
