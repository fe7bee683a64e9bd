import type { Clock } from "../../src/util/clock.ts";

/** A clock the test moves by hand (epoch ms), for `clock` options: no test sleeps to pass time. */
export interface ManualClock {
  readonly now: Clock;
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let current = start;
  return {
    now: () => current,
    advance(ms) {
      current += ms;
    },
  };
}

/**
 * The client's `timers` under the test's hand: each sleep is recorded and waits until the
 * test fires it (`auto` fires at once), so backoff, pings and connect limits run without
 * real time passing.
 */
export interface ManualTimers {
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Every wait asked for, in order, fired or not. */
  readonly waits: number[];
  /** Sleeps not yet fired or aborted. */
  pending(): number;
  /** Fires every pending sleep. */
  fire(): void;
  /** Resolves once at least `count` sleeps are pending (checked as they are asked for). */
  sleeping(count?: number): Promise<void>;
}

export function manualTimers(options: { auto?: boolean } = {}): ManualTimers {
  const waits: number[] = [];
  let pending: { resolve(): void }[] = [];
  let watchers: { count: number; resolve(): void }[] = [];
  const notify = () => {
    watchers = watchers.filter((watcher) => {
      if (pending.length < watcher.count) return true;
      watcher.resolve();
      return false;
    });
  };
  return {
    waits,
    sleep(ms, signal) {
      waits.push(ms);
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (options.auto) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const entry = {
          resolve: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          pending = pending.filter((other) => other !== entry);
          reject(signal!.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        pending.push(entry);
        notify();
      });
    },
    pending: () => pending.length,
    fire() {
      const due = pending;
      pending = [];
      for (const entry of due) entry.resolve();
    },
    sleeping(count = 1) {
      return new Promise<void>((resolve) => {
        watchers.push({ count, resolve });
        notify();
      });
    },
  };
}
