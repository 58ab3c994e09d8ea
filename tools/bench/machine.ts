import { arch, cpus, platform, release, totalmem } from 'node:os';
import type { MachineDescription } from './results.js';

const MIB = 1024 * 1024;
const CALIBRATION_BUFFER_MIB = 32;

/**
 * CPU time (user + system, this process) to write one MiB into memory never touched before (a fresh
 * buffer each round: the kernel maps its pages in on first touch) and into one buffer reused every
 * round. Large answers pass through several fresh buffers in the proxy, so on machines where first
 * touch is slow (VMs with costly page faults) it dominates their CPU cost; this puts a number on it.
 */
export function calibrateMemory(rounds: number): { freshMsPerMiB: number; reusedMsPerMiB: number } {
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const { user, system } = process.cpuUsage(since);
    return (user + system) / 1000;
  };
  const bytes = CALIBRATION_BUFFER_MIB * MIB;
  let start = process.cpuUsage();
  for (let round = 0; round < rounds; round++) Buffer.allocUnsafeSlow(bytes).fill(round + 1);
  const freshMs = cpuMs(start);
  const reused = Buffer.allocUnsafeSlow(bytes).fill(0);
  start = process.cpuUsage();
  for (let round = 0; round < rounds; round++) reused.fill(round + 1);
  const reusedMs = cpuMs(start);
  const perMiB = (ms: number) => Math.round((ms / (rounds * CALIBRATION_BUFFER_MIB)) * 1000) / 1000;
  return { freshMsPerMiB: perMiB(freshMs), reusedMsPerMiB: perMiB(reusedMs) };
}

/** `calibrationRounds`: fresh 32 MiB buffers written to price first-touch memory (see calibrateMemory). */
export function describeMachine(calibrationRounds: number): MachineDescription {
  const processors = cpus();
  return {
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cores: processors.length,
    memoryBytes: totalmem(),
    node: process.version,
    platform: platform(),
    release: release(),
    arch: arch(),
    memoryWriteCost: calibrateMemory(calibrationRounds),
  };
}
