/**
 * Progress while a scenario runs: one line redrawn in place on a terminal, plain lines every few
 * seconds otherwise (CI logs keep every line).
 */
interface ProgressState {
  elapsedMs: number;
  phase: string;
  /** 0-1 of the arrival schedule, undefined while draining. */
  fraction?: number;
  offered: number;
  accepted: number;
  notSent: number;
  errors: number;
  backlog?: number;
  dlq?: number;
  completed?: number;
}

interface Progress {
  update(state: ProgressState): void;
  /** Prints a line above the bar (or just a line). */
  log(line: string): void;
  done(): void;
}

const BAR = 24;

function describe(state: ProgressState): string {
  const parts = [
    `${(state.elapsedMs / 1000).toFixed(0).padStart(4)} s`,
    state.phase,
    `offered ${state.offered}`,
    `202 ${state.accepted}`,
    `not sent ${state.notSent}`,
    `err ${state.errors}`,
  ];
  if (state.backlog !== undefined) parts.push(`backlog ${state.backlog}`);
  if (state.dlq) parts.push(`DLQ ${state.dlq}`);
  if (state.completed !== undefined) parts.push(`completed ${state.completed}`);
  return parts.join(' | ');
}

/**
 * @example
 * const progress = createProgress(process.stderr);
 * progress.update({ elapsedMs: 1000, phase: 'steady 1/3', fraction: 0.1, offered: 10, accepted: 10, notSent: 0, errors: 0 });
 * progress.done();
 */
function createProgress(stream: NodeJS.WriteStream, options: { intervalMs?: number; tty?: boolean } = {}): Progress {
  const tty = options.tty ?? stream.isTTY === true;
  const intervalMs = options.intervalMs ?? 5000;
  let lastPlain = 0;
  let drawn = false;
  const clear = (): void => {
    if (tty && drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    update(state) {
      if (tty) {
        const filled = state.fraction === undefined ? BAR : Math.round(Math.min(1, Math.max(0, state.fraction)) * BAR);
        const bar = state.fraction === undefined ? '~'.repeat(BAR) : `${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}`;
        const columns = stream.columns ?? 160;
        stream.write(`\r\x1b[2K[${bar}] ${describe(state)}`.slice(0, columns + 6));
        drawn = true;
        return;
      }
      if (state.elapsedMs - lastPlain < intervalMs && lastPlain !== 0) return;
      lastPlain = Math.max(1, state.elapsedMs);
      stream.write(`${describe(state)}\n`);
    },
    log(line) {
      clear();
      stream.write(`${line}\n`);
    },
    done() {
      clear();
    },
  };
}

export { createProgress };
export type { Progress };
