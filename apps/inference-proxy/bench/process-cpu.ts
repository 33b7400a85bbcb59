/**
 * CPU time of process trees, read from /proc (Linux): the benchmark's account of what each part
 * of a run cost the machine. On a 2-core machine every process of the run shares the same cores,
 * so the highest rate a side sustains is set by the CPU all of its processes spend per request.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const MS_PER_TICK = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface ProcessSample {
  parent: number;
  /** User plus system time, in clock ticks. */
  ticks: number;
}

function sampleAll(): Map<number, ProcessSample> {
  const samples = new Map<number, ProcessSample>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it exited meanwhile
    }
    // The command name is in parentheses and may hold spaces: fields are counted after it.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    samples.set(Number(entry), { parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
  }
  return samples;
}

/** CPU ticks per process of each named tree (a root pid and every descendant), at one moment. */
export type CpuSnapshot = Map<string, Map<number, number>>;

export function snapshotCpu(roots: Record<string, number | undefined>): CpuSnapshot {
  const all = sampleAll();
  const children = new Map<number, number[]>();
  for (const [pid, sample] of all) {
    const siblings = children.get(sample.parent);
    if (siblings) siblings.push(pid);
    else children.set(sample.parent, [pid]);
  }
  const snapshot: CpuSnapshot = new Map();
  for (const [name, root] of Object.entries(roots)) {
    const ticks = new Map<number, number>();
    const pending = root === undefined ? [] : [root];
    while (pending.length > 0) {
      const pid = pending.pop() as number;
      const sample = all.get(pid);
      if (!sample) continue;
      ticks.set(pid, sample.ticks);
      pending.push(...(children.get(pid) ?? []));
    }
    snapshot.set(name, ticks);
  }
  return snapshot;
}

/** CPU milliseconds each tree spent between two snapshots (processes present in both). */
export function cpuMsBetween(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const [name, ticks] of after) {
    let total = 0;
    for (const [pid, now] of ticks) total += now - (before.get(name)?.get(pid) ?? now);
    spent[name] = total * MS_PER_TICK;
  }
  return spent;
}
