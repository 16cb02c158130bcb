/**
 * Minimal assertions (JSR's @std/assert is not reachable from here).
 * @module
 */
import { AssertionError, deepStrictEqual } from "node:assert";

/** Fails unless `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError({ message: msg });
}

/** Deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    deepStrictEqual(actual, expected);
  } catch {
    throw new AssertionError({
      message: `${msg ? msg + ": " : ""}expected ${JSON.stringify(expected)}, got ${
        JSON.stringify(actual)
      }`,
    });
  }
}

/** |actual − expected| ≤ tolerance. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  msg?: string,
): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new AssertionError({
      message: `${msg ? msg + ": " : ""}expected ${expected} ± ${tolerance}, got ${actual}`,
    });
  }
}

/** Expects `fn` to reject; returns the error. */
export async function assertRejects(fn: () => Promise<unknown>, msg?: string): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new AssertionError({ message: msg ?? "expected the promise to reject" });
}

/** Expects `fn` to throw; returns the error. */
export function assertThrows(fn: () => unknown, msg?: string): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new AssertionError({ message: msg ?? "expected a throw" });
}
