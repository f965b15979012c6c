import { describe, expect, it } from 'vitest';
import { DEFAULT_HEAP_GROWING_PERCENT, heapGrowingPercent, limitHeapGrowth } from '../src/util/heap-growth.ts';

describe('V8 heap growth of the local cloud', () => {
  it('sets 100 % by default, so a heap grows to twice what survived its last full GC', () => {
    // Prepare
    const set: string[] = [];

    // Act
    const percent = limitHeapGrowth({}, (flags) => set.push(flags));

    // Assess
    expect(percent).toBe(DEFAULT_HEAP_GROWING_PERCENT);
    expect(set).toEqual(['--heap-growing-percent=100']);
  });

  it('takes LOCAL_HEAP_GROWING_PERCENT, and 0 gives V8 its own heuristic back', () => {
    expect(heapGrowingPercent({ env: '50' })).toBe(50);
    expect(heapGrowingPercent({ env: ' ' })).toBe(DEFAULT_HEAP_GROWING_PERCENT);
    const set: string[] = [];
    expect(limitHeapGrowth({ env: '0' }, (flags) => set.push(flags))).toBe(0);
    expect(set).toEqual(['--heap-growing-percent=0']);
  });

  it('prefers the option to the environment', () => {
    expect(heapGrowingPercent({ option: 300, env: '50' })).toBe(300);
  });

  it("leaves a --heap-growing-percent on node's command line alone, in either spelling", () => {
    // Prepare
    const set: string[] = [];

    // Act
    const dashed = limitHeapGrowth({ option: 100, execArgv: ['--heap-growing-percent=25'] }, (flags) => set.push(flags));
    const underscored = limitHeapGrowth({ env: '100', execArgv: ['--heap_growing_percent', '25'] }, (flags) => set.push(flags));

    // Assess
    expect(dashed).toBeUndefined();
    expect(underscored).toBeUndefined();
    expect(set).toEqual([]);
  });

  it('refuses a value that is not a whole number of percent, naming where it came from', () => {
    expect(() => heapGrowingPercent({ env: 'lots' })).toThrow(/LOCAL_HEAP_GROWING_PERCENT must be a whole number of percent.*not "lots"/);
    expect(() => heapGrowingPercent({ env: '-5' })).toThrow(/LOCAL_HEAP_GROWING_PERCENT .*not "-5"/);
    expect(() => heapGrowingPercent({ option: 1.5 })).toThrow(/heapGrowingPercent must be .*not 1.5/);
  });
});
