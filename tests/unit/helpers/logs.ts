import { vi } from 'vitest';
import { logger } from '#lib/powertools.ts';

/**
 * Every JSON log line Powertools writes (stdout and stderr) while `run` runs, at INFO level whatever
 * POWERTOOLS_LOG_LEVEL says; nothing reaches the terminal.
 */
const captureLogs = async (run: () => Promise<unknown>): Promise<Record<string, unknown>[]> => {
  const chunks: string[] = [];
  const capture = (chunk: unknown): boolean => {
    chunks.push(String(chunk));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  const level = logger.getLevelName();
  logger.setLogLevel('INFO');
  try {
    await run();
  } finally {
    logger.setLogLevel(level);
    out.mockRestore();
    err.mockRestore();
  }
  return chunks
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
};

export { captureLogs };
