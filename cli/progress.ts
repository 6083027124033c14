/**
 * A progress bar on stderr for long commands: redrawn in place on a terminal, and one line per
 * finished step elsewhere (logs, CI, tests), so a pipe never fills with carriage returns.
 */
export interface ProgressBar {
  /** Redraws the current step: `done` of `total`, with a note after the bar. */
  update: (done: number, total: number, note?: string) => void;
  /** Ends the current step with its final line. */
  finish: (line: string) => void;
}

const WIDTH = 24;

export function bar(done: number, total: number): string {
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(share * WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.round(share * 100)).padStart(3)}%`;
}

export function progressBar(write: (text: string) => void, { interactive }: { interactive: boolean }): ProgressBar {
  let drawn = false;
  let lastDraw = 0;
  return {
    update: (done, total, note = '') => {
      if (!interactive) return;
      const now = performance.now();
      if (done < total && now - lastDraw < 80) return;
      lastDraw = now;
      write(`\r\u001b[2K${bar(done, total)} ${note}`);
      drawn = true;
    },
    finish: (line) => {
      write(`${interactive && drawn ? '\r\u001b[2K' : ''}${line}\n`);
      drawn = false;
    },
  };
}
