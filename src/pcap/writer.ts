/**
 * Writer of classic pcap files (little-endian, version 2.4), the format every tool
 * reads: what `tsvs replay` writes out after the engine rewrote the packets, and what
 * the data plane can dump for debugging (Katran's PcapWriter plays the same part).
 *
 * Records are gathered in a buffer and written out when it fills and on close, so a
 * replay of a large capture makes few system calls. Write errors (disk full...) do not
 * throw: the writer stops, remembers the first error, and `close()` returns it.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US } from './classic.js';
import { LINKTYPE_RAW } from './record.js';

/** Timestamp resolution of the file: nanosecond or microsecond magic. */
export type PcapResolution = 'ns' | 'us';

export interface PcapWriterOptions {
  /** LINKTYPE_* of the frames given to `write`; default LINKTYPE_RAW (IP packets). */
  readonly linkType?: number;
  /** Default 'ns'. With 'us' the sub-microsecond part of the time is dropped. */
  readonly resolution?: PcapResolution;
  /** Longer packets are cut to this many bytes (their original length is kept); default 262144. */
  readonly snaplen?: number;
  /** Bytes gathered before a write to the file; default 64 KiB. */
  readonly bufferSize?: number;
}

/** The result of opening a file for writing: a writer, or why there is none. */
export type PcapWriterOpen =
  | { readonly ok: true; readonly writer: PcapWriter }
  | { readonly ok: false; readonly message: string };

const FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
const VERSION_MAJOR = 2;
const VERSION_MINOR = 4;
const DEFAULT_SNAPLEN = 262144;
const DEFAULT_BUFFER = 64 * 1024;
const MAX_SECONDS = 0x1_0000_0000n; // ts_sec is an unsigned 32-bit field

interface Sink {
  /** Takes the bytes (the caller may reuse the array afterwards). */
  put(chunk: Uint8Array): void;
  close(): void;
}

class FileSink implements Sink {
  constructor(private readonly fd: number) {}
  put(chunk: Uint8Array): void {
    for (let done = 0; done < chunk.length;) {
      done += writeSync(this.fd, chunk, done, chunk.length - done);
    }
  }
  close(): void {
    closeSync(this.fd);
  }
}

class MemorySink implements Sink {
  readonly chunks: Uint8Array[] = [];
  put(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice());
  }
  close(): void {}
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Writes a classic pcap file, to disk or to memory. */
export class PcapWriter {
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private pos = 0;
  private readonly nano: boolean;
  private readonly snaplen: number;
  private count = 0;
  private failure: string | null = null;
  private closed = false;

  protected constructor(
    private readonly sink: Sink,
    options: PcapWriterOptions,
  ) {
    this.nano = (options.resolution ?? 'ns') === 'ns';
    this.snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(this.snaplen) || this.snaplen <= 0 || this.snaplen > 0xffffffff) {
      throw new RangeError(`PcapWriter: bad snaplen ${this.snaplen}`);
    }
    const size = Math.max(options.bufferSize ?? DEFAULT_BUFFER, FILE_HEADER_LEN);
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
    const dv = this.dv;
    dv.setUint32(0, this.nano ? PCAP_MAGIC_NS : PCAP_MAGIC_US, true);
    dv.setUint16(4, VERSION_MAJOR, true);
    dv.setUint16(6, VERSION_MINOR, true);
    dv.setInt32(8, 0, true); // thiszone: times are UTC
    dv.setUint32(12, 0, true); // sigfigs
    dv.setUint32(16, this.snaplen, true);
    dv.setUint32(20, options.linkType ?? LINKTYPE_RAW, true);
    this.pos = FILE_HEADER_LEN;
  }

  /**
   * Creates (or truncates) `path` and writes the file header to it once the first
   * buffer is flushed. Fails as a value when the file cannot be opened.
   */
  static toFile(path: string, options: PcapWriterOptions = {}): PcapWriterOpen {
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (err) {
      return { ok: false, message: `cannot write ${path}: ${errorText(err)}` };
    }
    return { ok: true, writer: new PcapWriter(new FileSink(fd), options) };
  }

  /** A writer that keeps the file in memory; `bytes()` returns it. */
  static toMemory(options: PcapWriterOptions = {}): PcapMemoryWriter {
    return new PcapMemoryWriter(options);
  }

  /** Packets written so far. */
  get packets(): number {
    return this.count;
  }

  /** The first write error, or null while all is well. */
  get error(): string | null {
    return this.failure;
  }

  /**
   * Appends one record: `len` bytes of `packet` from `off`, stamped `tsNs` nanoseconds
   * after the epoch. `originalLength` is the length on the wire when the caller already
   * holds only part of the packet. Returns false when the writer has failed (see
   * `error`). Throws RangeError for arguments no caller should pass, and after close.
   */
  write(
    tsNs: bigint,
    packet: Uint8Array,
    off = 0,
    len = packet.length - off,
    originalLength = len,
  ): boolean {
    if (this.closed) throw new Error('PcapWriter: write after close');
    if (off < 0 || len < 0 || off + len > packet.length || !Number.isInteger(off + len)) {
      throw new RangeError(
        `PcapWriter: bytes ${off}..${off + len} outside a ${packet.length}-byte packet`,
      );
    }
    const sec = tsNs / 1_000_000_000n;
    if (tsNs < 0n || sec >= MAX_SECONDS) {
      throw new RangeError(`PcapWriter: timestamp ${tsNs} ns does not fit in a pcap record`);
    }
    if (this.failure !== null) return false;
    const frac = tsNs % 1_000_000_000n;
    const incl = Math.min(len, this.snaplen);
    const orig = Math.max(originalLength, len);
    if (this.pos + RECORD_HEADER_LEN + incl > this.buf.length) this.flush();
    if (this.failure !== null) return false;
    const dv = this.dv;
    dv.setUint32(this.pos, Number(sec), true);
    dv.setUint32(this.pos + 4, Number(this.nano ? frac : frac / 1000n), true);
    dv.setUint32(this.pos + 8, incl, true);
    dv.setUint32(this.pos + 12, orig, true);
    this.pos += RECORD_HEADER_LEN;
    const data = packet.subarray(off, off + incl);
    if (incl <= this.buf.length - this.pos) {
      this.buf.set(data, this.pos);
      this.pos += incl;
    } else {
      // larger than the buffer: header out first, then the packet straight from its array
      this.flush();
      this.put(data);
    }
    if (this.failure !== null) return false;
    this.count++;
    return true;
  }

  /** Writes out what is buffered. */
  flush(): void {
    if (this.pos === 0) return;
    this.put(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** Flushes and closes; returns the first write error, or null. Closing twice is harmless. */
  close(): string | null {
    if (this.closed) return this.failure;
    this.flush();
    this.closed = true;
    try {
      this.sink.close();
    } catch (err) {
      this.failure ??= errorText(err);
    }
    return this.failure;
  }

  private put(chunk: Uint8Array): void {
    if (this.failure !== null) return;
    try {
      this.sink.put(chunk);
    } catch (err) {
      this.failure = errorText(err);
    }
  }
}

/** A {@link PcapWriter} whose file stays in memory. */
export class PcapMemoryWriter extends PcapWriter {
  private readonly memory: MemorySink;

  constructor(options: PcapWriterOptions = {}) {
    const sink = new MemorySink();
    super(sink, options);
    this.memory = sink;
  }

  /** The whole file written so far (a copy). */
  bytes(): Uint8Array {
    this.flush();
    const chunks = this.memory.chunks;
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
