/**
 * Epoch milliseconds now. Everything whose behaviour depends on the time (expiry, lifetimes,
 * idle limits) reads it through a Clock, so that tests move time instead of waiting for it.
 */
export type Clock = () => number;

/** The system clock. Reads `Date.now` at each call, so fake timers installed later apply too. */
export const systemClock: Clock = () => Date.now();
