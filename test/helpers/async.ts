/**
 * Waiting in tests: for a handler to be stepped, for a condition, for a server to catch up.
 * None of these lets time pass on purpose; where a test needs time to pass, it injects a clock
 * (test/helpers/clock.ts) or uses fake timers.
 */

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

/** A promise with its resolve function outside, to step a handler from the test. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((done, fail) => {
    resolve = done;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** The real timer, taken before any test installs fake ones: waiting works under fake timers. */
const realSetTimeout = globalThis.setTimeout;
/** Node's, also taken early; workerd (test/workers) has none and yields with a timer instead. */
const realSetImmediate = (globalThis as { setImmediate?: (run: () => void) => unknown })
  .setImmediate;

/** A few ms of real time, so that I/O callbacks that are due run; not a stand-in for a clock. */
function turn(ms = 5): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/**
 * Resolves once `condition` holds, looking again after each turn of I/O. Rejects after
 * `tries` looks, so a condition that never comes fails with a message instead of the test's
 * timeout.
 */
export async function until(condition: () => boolean, tries = 2_000): Promise<void> {
  for (let attempt = 0; !condition(); attempt++) {
    if (attempt >= tries) throw new Error(`until: still false after ${tries} looks: ${condition}`);
    await turn();
  }
}

/**
 * Asks `probe` again until `done` accepts its answer, and resolves with that answer. For
 * state that another party (a server, a process, a Store with its own clock) changes in its
 * own time. Rejects after `tries` probes with the last answer; `everyMs` spaces probes that
 * cost the other party something.
 */
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  tries = 1_000,
  everyMs = 5,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const value = await probe();
    if (done(value)) return value;
    if (attempt >= tries) {
      throw new Error(`eventually: gave up after ${tries} probes; last: ${JSON.stringify(value)}`);
    }
    await turn(everyMs);
  }
}

/** Yields once to the event loop, I/O included: a handler's later step, with no time to pass. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) =>
    realSetImmediate ? realSetImmediate(resolve) : realSetTimeout(resolve, 0),
  );
}
