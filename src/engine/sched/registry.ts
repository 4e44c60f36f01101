/** Registry of scheduler modules by name (the kernel's `ip_vs_scheduler_get`). */
import type { SchedulerModule } from './types.js';

const modules = new Map<string, SchedulerModule>();

export function registerScheduler(mod: SchedulerModule): void {
  modules.set(mod.name, mod);
}

export function findScheduler(name: string): SchedulerModule | undefined {
  return modules.get(name);
}

export function schedulerNames(): string[] {
  return [...modules.keys()];
}
