/**
 * Option-value parsers shared by the CLI's commands (commander's argParser): each returns the parsed
 * value or throws InvalidArgumentError, which commander prints beside the option's name.
 * @module
 */
import { InvalidArgumentError } from 'commander';

/** An integer ≥ 1. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer is needed');
  return n;
}

/** A number > 0 (seconds, ratios). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('a positive number is needed');
  return n;
}

/** A comma-separated list, each item parsed by `parse` and, when `allowed` is given, one of those. */
export function listOf<T extends string | number>(parse: (s: string) => T, allowed?: readonly T[]) {
  return (value: string): T[] => {
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map(parse);
    const bad = allowed ? items.filter((s) => !allowed.includes(s)) : [];
    if (items.length === 0 || bad.length) {
      throw new InvalidArgumentError(
        allowed ? `expected a comma-separated list of: ${allowed.join(', ')}${bad.length ? ` (not: ${bad.join(', ')})` : ''}` : 'expected a comma-separated list',
      );
    }
    return items;
  };
}
