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
