// What every benchmark prints first: the machine it ran on and how busy it was. Other work on a
// shared machine (tests, builds) disturbs figures; the load average says whether to trust them.
import { cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  loadAverage: [number, number, number];
  at: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  const [one, five, fifteen] = loadavg();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    loadAverage: [round2(one ?? 0), round2(five ?? 0), round2(fifteen ?? 0)],
    at: new Date().toISOString(),
  };
}

export function describeMachine(m: MachineInfo = machineInfo()): string {
  return `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node} (${m.platform}); load average ${m.loadAverage.join(' ')} at ${m.at}`;
}

export function loadAverageNow(): string {
  return loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
}

const round2 = (v: number) => Math.round(v * 100) / 100;
