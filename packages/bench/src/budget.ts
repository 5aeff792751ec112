/**
 * Every benchmark must finish within a minute on a 2-core machine. Measurements stop starting new rounds
 * once this much time (milliseconds, warm-up included) has gone, after their minimum number of rounds; the
 * `n` column of each table shows how many rounds ran.
 */
export const BUDGET = 40_000
