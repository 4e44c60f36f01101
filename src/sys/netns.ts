/**
 * Which named network namespace (`ip netns add NAME`) this process runs in, so that
 * several daemons on one machine get distinct default socket and state paths.
 */
import { readdirSync, statSync } from 'node:fs';

/** The name under /run/netns of our network namespace, or null (the initial one, or unnamed). */
export function currentNetnsName(): string | null {
  let self: number;
  try {
    self = statSync('/proc/self/ns/net').ino;
  } catch {
    return null;
  }
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return null;
  }
  for (const n of names) {
    try {
      if (statSync(`/run/netns/${n}`).ino === self) return n;
    } catch {
      /* a namespace being removed */
    }
  }
  return null;
}
