import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'packages/*/tests/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // vitest's default is one worker less than the CPUs: 1 on a 2-core machine, every file in turn. Most of the
    // slow files wait on local-cloud polls, child processes (osls, tsc, RabbitMQ) and timers, not on the CPU, so two
    // at a time finish sooner. Four starved the CPU-bound ones on a busy 2-core machine: timeouts in 7 tests (see the
    // README's Quick start for the figures and how they were measured).
    maxWorkers: 2,
  },
});
