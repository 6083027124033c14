import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEDULES } from '../../../lib/resources.ts';
import { openVirtualClock, type VirtualClock } from '../../../local/clock.ts';
import { createLocalScheduler, firingsBetween } from '../../../local/scheduler.ts';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('firingsBetween, on the stack schedules', () => {
  it('fires the daily analysis at 03:00 UTC each day, after the start and up to and including the end', () => {
    expect(iso(firingsBetween(SCHEDULES.analysis, new Date('2026-12-01T03:00:00Z'), new Date('2026-12-04T03:00:00Z')))).toEqual([
      '2026-12-02T03:00:00.000Z',
      '2026-12-03T03:00:00.000Z',
      '2026-12-04T03:00:00.000Z',
    ]);
  });

  it('fires the weekly retraining on Sundays at 04:00 UTC only', () => {
    expect(iso(firingsBetween(SCHEDULES.retraining, new Date('2026-12-01T00:00:00Z'), new Date('2026-12-20T12:00:00Z')))).toEqual([
      '2026-12-06T04:00:00.000Z',
      '2026-12-13T04:00:00.000Z',
      '2026-12-20T04:00:00.000Z',
    ]);
  });

  it('caps the firings of one check', () => {
    expect(firingsBetween(SCHEDULES.analysis, new Date('2026-01-01T00:00:00Z'), new Date('2027-12-31T00:00:00Z'), 10)).toHaveLength(10);
  });
});

describe('the virtual clock', () => {
  let dir: string;
  let real: number;
  const realNow = () => real;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abrec-clock-'));
    real = Date.parse('2026-12-01T10:00:00Z');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('runs with real time from an offset that a restart keeps', async () => {
    // Prepare
    const clock = await openVirtualClock(dir, realNow);

    // Act
    await clock.set(Date.parse('2026-12-05T06:00:00Z'));
    real += 1000;
    const reopened = await openVirtualClock(dir, realNow);

    // Assess
    expect(new Date(clock.now()).toISOString()).toBe('2026-12-05T06:00:01.000Z');
    expect(new Date(reopened.now()).toISOString()).toBe('2026-12-05T06:00:01.000Z');
    expect(JSON.parse(await readFile(join(dir, 'clock.json'), 'utf8'))).toEqual({ offset_ms: 4 * 86_400_000 - 4 * 3_600_000 });
  });

  it('refuses to move backwards', async () => {
    const clock = await openVirtualClock(dir, realNow);
    await expect(clock.set(Date.parse('2026-11-30T00:00:00Z'))).rejects.toThrow(/only moves forward/);
  });
});

describe('the local scheduler', () => {
  let clock: VirtualClock;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'abrec-sched-'));
    let real = Date.parse('2026-12-04T10:00:00Z');
    clock = await openVirtualClock(dir, () => (real += 1));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('fires every rule time the clock passes, in time order, each run finished before the next starts', async () => {
    // Prepare
    const log: string[] = [];
    const job = (name: string, schedule: string) => ({
      name,
      schedule,
      run: async (firedAt: Date) => {
        log.push(`start ${name} ${firedAt.toISOString()}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        log.push(`end ${name}`);
        return name;
      },
    });
    const scheduler = createLocalScheduler({ clock, jobs: [job('analysis', SCHEDULES.analysis), job('retraining', SCHEDULES.retraining)] });

    // Act
    await clock.set(Date.parse('2026-12-07T06:00:00Z'));
    const runs = await scheduler.catchUp();
    const again = await scheduler.catchUp();

    // Assess
    expect(runs.map((r) => `${r.job} ${r.fired_at}`)).toEqual([
      'analysis 2026-12-05T03:00:00.000Z',
      'analysis 2026-12-06T03:00:00.000Z',
      'retraining 2026-12-06T04:00:00.000Z',
      'analysis 2026-12-07T03:00:00.000Z',
    ]);
    expect(log.slice(0, 4)).toEqual(['start analysis 2026-12-05T03:00:00.000Z', 'end analysis', 'start analysis 2026-12-06T03:00:00.000Z', 'end analysis']);
    expect(again).toEqual([]);
  });

  it('records a failed run and goes on with the next one', async () => {
    // Prepare
    const scheduler = createLocalScheduler({
      clock,
      jobs: [
        {
          name: 'analysis',
          schedule: SCHEDULES.analysis,
          run: async (firedAt) => {
            if (firedAt.getUTCDate() === 5) throw new Error('store down');
            return 'ok';
          },
        },
      ],
    });

    // Act
    await clock.set(Date.parse('2026-12-06T06:00:00Z'));
    const runs = await scheduler.catchUp();

    // Assess
    expect(runs.map((r) => [r.fired_at.slice(0, 10), r.ok, r.error ?? r.result])).toEqual([
      ['2026-12-05', false, 'store down'],
      ['2026-12-06', true, 'ok'],
    ]);
  });
});
