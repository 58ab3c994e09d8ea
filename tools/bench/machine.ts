import { arch, cpus, platform, release, totalmem } from 'node:os';
import type { MachineDescription } from './results.js';

export function describeMachine(): MachineDescription {
  const processors = cpus();
  return {
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cores: processors.length,
    memoryBytes: totalmem(),
    node: process.version,
    platform: platform(),
    release: release(),
    arch: arch(),
  };
}
