/**
 * Lambda event filtering (`FilterCriteria` on an event source mapping): a record is delivered when
 * it matches at least one filter pattern. Patterns use the EventBridge syntax Lambda supports
 * (Lambda "Control which events Lambda sends to your function"): exact values, null, prefix,
 * suffix, equals-ignore-case, anything-but, numeric ranges, exists, wildcard, and `$or`.
 * The record's JSON data field (`body` for SQS, `data` for Kinesis) is matched parsed.
 */
import { isRecord } from '../template/template.ts';

type Pattern = Record<string, unknown>;

class FilterPatternError extends Error {
  constructor(pattern: string, reason: string) {
    super(`invalid filter pattern ${pattern}: ${reason}`);
    this.name = 'FilterPatternError';
  }
}

function parsePatterns(filterCriteria: unknown): Pattern[] {
  if (!isRecord(filterCriteria) || !Array.isArray(filterCriteria.Filters)) return [];
  return filterCriteria.Filters.filter(isRecord).map((filter) => {
    const raw = typeof filter.Pattern === 'string' ? filter.Pattern : JSON.stringify(filter.Pattern);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new FilterPatternError(raw, error instanceof Error ? error.message : String(error));
    }
    if (!isRecord(parsed)) throw new FilterPatternError(raw, 'a pattern is a JSON object');
    return parsed;
  });
}

function matchesOperator(value: unknown, present: boolean, operator: Pattern): boolean {
  const [name, arg] = Object.entries(operator)[0] ?? [];
  switch (name) {
    case 'exists':
      return arg ? present && value !== undefined : !present;
    case 'prefix':
      return typeof value === 'string' && (isRecord(arg) ? value.toLowerCase().startsWith(String(arg['equals-ignore-case']).toLowerCase()) : value.startsWith(String(arg)));
    case 'suffix':
      return typeof value === 'string' && (isRecord(arg) ? value.toLowerCase().endsWith(String(arg['equals-ignore-case']).toLowerCase()) : value.endsWith(String(arg)));
    case 'equals-ignore-case':
      return typeof value === 'string' && value.toLowerCase() === String(arg).toLowerCase();
    case 'wildcard': {
      if (typeof value !== 'string') return false;
      const regex = new RegExp(`^${String(arg).split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
      return regex.test(value);
    }
    case 'anything-but': {
      if (!present) return false;
      if (isRecord(arg)) return !matchesOperator(value, present, arg);
      const excluded = Array.isArray(arg) ? arg : [arg];
      return !excluded.some((item) => item === value);
    }
    case 'numeric': {
      if (typeof value !== 'number' || !Array.isArray(arg)) return false;
      for (let i = 0; i + 1 < arg.length; i += 2) {
        const bound = Number(arg[i + 1]);
        const ok =
          arg[i] === '=' ? value === bound : arg[i] === '>' ? value > bound : arg[i] === '>=' ? value >= bound : arg[i] === '<' ? value < bound : arg[i] === '<=' ? value <= bound : false;
        if (!ok) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** A leaf is a list of accepted values/operators; an array value matches if any element does. */
function matchesLeaf(value: unknown, present: boolean, accepted: unknown[]): boolean {
  const candidates = Array.isArray(value) ? value : [value];
  return accepted.some((rule) => {
    if (isRecord(rule)) return candidates.some((candidate) => matchesOperator(candidate, present, rule)) || (candidates.length === 0 && matchesOperator(undefined, present, rule));
    if (rule === null) return present && value === null;
    return candidates.some((candidate) => candidate === rule);
  });
}

function matchesPattern(data: unknown, pattern: Pattern): boolean {
  for (const [key, rule] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(rule) || !rule.some((alternative) => isRecord(alternative) && matchesPattern(data, alternative))) return false;
      continue;
    }
    const present = isRecord(data) && key in data;
    const value = present ? (data as Record<string, unknown>)[key] : undefined;
    if (Array.isArray(rule)) {
      if (!matchesLeaf(value, present, rule)) return false;
    } else if (isRecord(rule)) {
      if (!isRecord(value) || !matchesPattern(value, rule)) return false;
    } else return false;
  }
  return true;
}

/** A record passes when there are no filters or it matches any of them (filters are OR-ed). */
function passesFilters(record: Record<string, unknown>, patterns: Pattern[]): boolean {
  return patterns.length === 0 || patterns.some((pattern) => matchesPattern(record, pattern));
}

/** Parses a data field as JSON when it is JSON; plain strings only match string patterns. */
function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export { parseData, parsePatterns, passesFilters };
export type { Pattern };
