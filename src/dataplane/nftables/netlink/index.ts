// Set elements of table inet vipgate written and read over nfnetlink directly, without
// libnftables: libnftables holds ~10 KB per parsed element and decodes a 100k-element listing in
// seconds, while the elements are fixed-layout bytes (elements.ts). libnftables keeps the small
// skeleton (table, set declarations, chains, rules). See docs/design/004-nftables-layout.md.
import { getSystemErrorMap } from 'node:util';
import { libc } from '../../../libc.ts';
import { NftError, NftErrorCode } from '../errors.ts';
import { SetNames, type SetName } from '../render.ts';
import { elementText } from '../set-elements.ts';
import { MalformedReply } from './attrs.ts';
import { ElementDecoder, LayoutMismatch } from './decode.ts';
import { SET_LAYOUTS, type DumpedElement } from './elements.ts';
import { decodeReplies, elementAt, encodeBatch, encodeGetElements, type ElementBatchOp, type MessageInfo, type Reply } from './messages.ts';
import { NetfilterSocket, SocketError } from './socket.ts';

export { SET_LAYOUTS, type SetLayout } from './elements.ts';
export type { ElementBatchOp } from './messages.ts';

export interface ElementCounts {
  readonly packets: bigint;
  readonly bytes: bigint;
}

export interface NftNetlink {
  /**
   * One atomic nfnetlink batch (BATCH_BEGIN … BATCH_END) on table `inet vipgate`, in order.
   * Waits for every ACK; on any error throws NftError(NftErrorCode.commandFailed) whose message
   * names the op (verb, set, the element as nft text) and the kernel's errno (e.g. ENOENT, EEXIST);
   * nothing of the batch is then applied. An element that is not of the set's shape is
   * refused the same way before anything is sent.
   */
  commit(ops: readonly ElementBatchOp[]): void;
  /**
   * Every element of one set as nft lists it (after `normalizeElement`), in the kernel's dump
   * order (interval sets: ascending), and the per-element counters for sets declared with
   * `counter` (counters4/6). Throws NftError(commandFailed) naming the errno when the set or
   * table is missing.
   */
  listElements(set: SetName): { elements: string[]; counts: Map<string, ElementCounts> };
  close(): void;
}

/** Largest datagram a dump reply comes in (the kernel caps dump skbs at 32 KB). */
const RECEIVE_BYTES = 1 << 18;
/** Answers are queued before send returns; the timeout only guards against a kernel bug. */
const RECEIVE_TIMEOUT_MS = 5000;
/** Attempts at a dump that the kernel marks interrupted (the set changed under it). */
const DUMP_ATTEMPTS = 5;

const errnos = getSystemErrorMap();
const errnoText = (errno: number): string => {
  const known = errnos.get(-errno);
  return known === undefined ? `errno ${errno}` : `${known[0]} (${known[1]})`;
};

const SET_NAMES: ReadonlySet<string> = new Set(Object.values(SetNames));

function checkSet(set: string): asserts set is SetName {
  if (!SET_NAMES.has(set)) {
    throw new NftError(NftErrorCode.commandFailed, `"${set}" is not a set of table inet vipgate; known: ${[...SET_NAMES].join(', ')}`);
  }
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** "add element to backends4tcp: 10.200.0.5 . tcp . 80 . 3 : 10.100.1.41 . 8080". */
function describe(op: ElementBatchOp, info: MessageInfo, reply: Reply): string {
  const first = info.elementOffsets[0];
  if (reply.offset !== undefined && (first === undefined || reply.offset < first)) {
    // The kernel pointed at the table or set attribute: one of them is missing or wrong.
    return `${op.verb === 'flush' ? 'flush' : op.verb} of set ${op.set} (the table inet vipgate or the set itself, not an element)`;
  }
  if (op.verb === 'flush') return `flush set ${op.set}`;
  const element = elementAt(info, reply.offset);
  const verb = op.verb === 'add' ? 'add element to' : 'delete element from';
  const text = (i: number): string => {
    const e = op.elements[i];
    return e === undefined ? '?' : elementText(e);
  };
  if (element !== undefined) return `${verb} ${op.set}: ${truncate(text(element))}`;
  // No offset from the kernel: name the message's elements.
  const sources = [...new Set(info.sources)];
  const firstText = text(sources[0] ?? 0);
  return sources.length === 1 ? `${verb} ${op.set}: ${truncate(firstText)}` : `${verb} ${op.set}: one of ${sources.length} elements (the first: ${truncate(firstText)})`;
}

function socketFailure(error: unknown, what: string): NftError {
  const text = error instanceof SocketError ? `${error.message}: ${errnoText(error.errno)}` : error instanceof Error ? error.message : String(error);
  return new NftError(NftErrorCode.commandFailed, `${what}: ${text}`, { nftMessage: text }, { cause: error });
}

/**
 * A writer and reader of the elements of table inet vipgate over nfnetlink, acting in the
 * network namespace this process is in when it is made (like ffiRunner). Synchronous. Throws
 * NftError(NFT_FFI_UNAVAILABLE) when libc can't be loaded through koffi or the socket is refused.
 */
export function nftNetlink(): NftNetlink {
  let socket: NetfilterSocket | undefined;
  try {
    socket = new NetfilterSocket(libc(), { receiveTimeoutMs: RECEIVE_TIMEOUT_MS, receiveBuffer: 4 << 20 });
  } catch (error) {
    const why = error instanceof SocketError ? `${error.message}: ${errnoText(error.errno)}` : error instanceof Error ? error.message : String(error);
    throw new NftError(NftErrorCode.ffiUnavailable, `could not open an nfnetlink socket through koffi: ${why}`, {}, { cause: error });
  }
  const buffer = Buffer.alloc(RECEIVE_BYTES);
  let seq = Math.floor(Date.now() / 1000) >>> 0;
  const open = (): NetfilterSocket => {
    if (socket === undefined) throw new NftError(NftErrorCode.closed, 'the nfnetlink element writer was closed; make a new one');
    return socket;
  };
  /** Answers to earlier requests that were never read (a timeout) must not be taken for ours. */
  const drain = (s: NetfilterSocket): void => {
    while (s.receive(buffer, false) > 0);
  };

  return {
    commit(ops) {
      const s = open();
      for (const op of ops) checkSet(op.set);
      const batch = encodeBatch(ops, seq);
      seq = (batch.endSeq + 1) >>> 0;
      if (batch.messages.length === 0) return;
      const bySeq = new Map(batch.messages.map((m) => [m.seq, m]));
      const failures: { info: MessageInfo; reply: Reply }[] = [];
      let batchError: Reply | undefined;
      try {
        drain(s);
        s.send(batch.bytes);
        while (bySeq.size > 0 && batchError === undefined) {
          const got = s.receive(buffer, true);
          if (got === 0) break;
          for (const event of decodeReplies(buffer.subarray(0, got))) {
            if (event.kind !== 'reply') continue;
            const { reply } = event;
            const info = bySeq.get(reply.seq);
            if (info !== undefined) {
              bySeq.delete(reply.seq);
              if (reply.errno !== 0) failures.push({ info, reply });
            } else if (reply.seq === batch.beginSeq && reply.errno !== 0) {
              batchError = reply; // the whole batch refused (no memory, or the commit failed)
            }
          }
        }
        drain(s);
      } catch (error) {
        throw socketFailure(error, `the element batch (${batch.messages.length} messages, ${batch.bytes.length} bytes) could not be completed`);
      }
      if (failures.length > 0) {
        failures.sort((a, b) => a.info.seq - b.info.seq);
        const { info, reply } = failures[0]!;
        const op = ops[info.op]!;
        const kernel = `${errnoText(reply.errno)}${reply.message === undefined ? '' : `: ${reply.message}`}`;
        const more = failures.length > 1 ? ` (and ${failures.length - 1} more refused message(s))` : '';
        throw new NftError(NftErrorCode.commandFailed, `the kernel refused ${describe(op, info, reply)}: ${kernel}${more}; nothing of the batch was applied`, { nftMessage: kernel });
      }
      if (batchError !== undefined) {
        const kernel = errnoText(batchError.errno);
        throw new NftError(NftErrorCode.commandFailed, `the kernel refused the element batch as a whole: ${kernel}; nothing of it was applied`, { nftMessage: kernel });
      }
      if (bySeq.size > 0) {
        throw new NftError(
          NftErrorCode.commandFailed,
          `the kernel did not answer ${bySeq.size} of ${batch.messages.length} element messages within ${RECEIVE_TIMEOUT_MS} ms; whether the batch was applied is unknown`,
        );
      }
    },

    listElements(set) {
      const s = open();
      checkSet(set);
      const layout = SET_LAYOUTS[set];
      for (let attempt = 1; ; attempt++) {
        const decoder = new ElementDecoder();
        const elements: string[] = [];
        const counts = new Map<string, ElementCounts>();
        const intervals: DumpedElement[] = [];
        const mine = (seq = (seq + 1) >>> 0);
        let interrupted = false;
        let done = false;
        try {
          drain(s);
          s.send(encodeGetElements(set, mine));
          while (!done) {
            const got = s.receive(buffer, true);
            if (got === 0) throw new NftError(NftErrorCode.commandFailed, `listing ${set}: the kernel stopped answering for ${RECEIVE_TIMEOUT_MS} ms`);
            for (const event of decodeReplies(buffer.subarray(0, got))) {
              if (event.kind === 'reply' && event.reply.seq === mine && event.reply.errno !== 0) {
                const kernel = errnoText(event.reply.errno);
                throw new NftError(NftErrorCode.commandFailed, `listing set ${set} of table inet vipgate failed: ${kernel}`, { nftMessage: kernel });
              }
              if (event.kind === 'done' && event.seq === mine) {
                interrupted ||= event.interrupted;
                done = true;
              }
              if (event.kind !== 'elements' || event.seq !== mine) continue;
              interrupted ||= event.interrupted;
              if (layout.shape === 'intervals') {
                // Views into the receive buffer, which the next datagram overwrites.
                for (const e of event.elements) intervals.push({ ...e, key: Uint8Array.from(e.key), ...(e.userdata === undefined ? {} : { userdata: Uint8Array.from(e.userdata) }) });
                continue;
              }
              // Decoded per datagram, so a 100k-element set never exists twice as objects.
              for (const e of event.elements) {
                const text = decoder.one(set, layout, e);
                elements.push(text);
                if (layout.counter && e.counter !== undefined) counts.set(text, e.counter);
              }
            }
          }
          if (layout.shape === 'intervals') elements.push(...decoder.decode(set, intervals));
        } catch (error) {
          if (error instanceof NftError) throw error;
          if (error instanceof LayoutMismatch || error instanceof MalformedReply) {
            throw new NftError(NftErrorCode.commandFailed, `set ${set} of table inet vipgate is not what vipgate declares: ${error.message}`, {}, { cause: error });
          }
          throw socketFailure(error, `listing set ${set}`);
        }
        // A dump spans several datagrams; the kernel flags one that a commit cut into.
        if (!interrupted) return { elements, counts };
        if (attempt >= DUMP_ATTEMPTS) {
          throw new NftError(NftErrorCode.commandFailed, `listing set ${set}: the ruleset changed during each of ${DUMP_ATTEMPTS} attempts`);
        }
      }
    },

    close() {
      socket?.close();
      socket = undefined;
    },
  };
}
