import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Chromium from the Debian package (or CHROMIUM_PATH), as test/e2e/browser.test.ts runs it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Launches headless Chromium on a fresh temporary profile (removed on close). Without
 * Chromium the calling test fails with how to install it.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}. Install the Debian package ` +
        "(apt-get update && apt-get install -y chromium) or set CHROMIUM_PATH.",
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 120_000,
  });
}
