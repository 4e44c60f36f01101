/**
 * The protocol interface (the kernel's `struct ip_vs_protocol`): the core asks the
 * protocol module for state names, timeouts and transitions and never switches on
 * "is this TCP" itself.
 */

/** Direction block of a transition (spec §2.2). */
export const DIR_INPUT = 0;
export const DIR_OUTPUT = 1;
export const DIR_INPUT_ONLY = 2;

export interface ProtocolModule {
  readonly protocol: number;
  readonly name: string;
  /** Number of states (the sentinel "BUG!" not included). */
  readonly numStates: number;
  stateName(state: number): string;
  /** Look a state up by its printed name (case-insensitive); -1 if unknown. */
  stateByName(name: string): number;
  /** Default per-state timeouts in seconds. */
  defaultTimeouts(): number[];
  /** Whether a state counts in activeconns (§2.5); UDP: never. */
  isActive(state: number): boolean;
}
