/**
 * Per-key serialization inside one process: the edge runs the check-then-write sequences that
 * AWS makes atomic (an S3 conditional write, an SNS FIFO deduplication check and publish) one at a
 * time per key, so two concurrent requests cannot both pass the check.
 *
 * @example
 * const locks = createKeyLocks();
 * await locks.run(`${bucket}/${key}`, async () => { if (!(await exists())) await write(); });
 */

interface KeyLocks {
  /** Runs `task` once every earlier task of `key` has settled; tasks of other keys run freely. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Keys with a task running or waiting (for tests). */
  size(): number;
}

function createKeyLocks(): KeyLocks {
  const tails = new Map<string, Promise<void>>();
  return {
    async run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      let release = (): void => undefined;
      const done = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tail = previous.then(() => done);
      tails.set(key, tail);
      await previous;
      try {
        return await task();
      } finally {
        release();
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
    size: () => tails.size,
  };
}

export { createKeyLocks };

