/**
 * Waiting in tests: for a handler to be stepped, for a condition, for a server to catch up.
 * None of these lets time pass on purpose; where a test needs time to pass, it injects a clock
 * or uses fake timers.
 */

/** A promise with its resolve function outside, to step a handler from the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Resolves after `ms` of real time: a turn for real I/O, not a stand-in for a clock. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `condition` holds, checking every few ms; the test's timeout bounds it. */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(5);
}

/**
 * Asks `probe` again until `done` accepts its answer, and resolves with that answer; the
 * test's timeout bounds the wait.
 */
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
): Promise<T> {
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    await sleep(10);
  }
}
