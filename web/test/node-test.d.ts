// The few parts of Node's built-in test runner and assert module the unit
// tests use, so tsc can check them without @types/node (the project's only
// npm dependency is typescript).
declare module 'node:test' {
  type Fn = (t: { name: string }) => void | Promise<void>;
  export function test(name: string, fn: Fn): Promise<void>;
  export function describe(name: string, fn: () => void): void;
  export function it(name: string, fn: Fn): Promise<void>;
}
declare module 'node:assert/strict' {
  function ok(value: unknown, message?: string): asserts value;
  namespace ok {}
  const assert: typeof ok & {
    ok(value: unknown, message?: string): asserts value;
    equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    match(value: string, re: RegExp, message?: string): void;
    doesNotMatch(value: string, re: RegExp, message?: string): void;
    throws(fn: () => unknown, expected?: RegExp, message?: string): void;
  };
  export default assert;
}
