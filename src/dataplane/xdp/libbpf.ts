// libbpf.so.1 (Debian libbpf1) from Node through koffi: open/load the object with pinned maps,
// find maps and programs, attach to interfaces, read and write maps, run BPF_PROG_TEST_RUN.
// Every call is synchronous (~2 µs a map update); failures become XdpError with the call's name.
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { XdpError, XdpErrorCode } from './errors.ts';

interface KoffiFunction {
  (...args: unknown[]): unknown;
}
interface KoffiModule {
  load(path: string): { func(definition: string): KoffiFunction };
  opaque(name: string): unknown;
  alloc(type: string, length: number): unknown;
  free(pointer: unknown): void;
  address(pointer: unknown): bigint;
  encode(pointer: unknown, type: string, value: unknown, length?: number): void;
  decode(pointer: unknown, type: string, length?: number): unknown;
  errno(): number;
}

export const LIBBPF = 'libbpf.so.1';

/** bpf_attach_type flags of bpf_xdp_attach (linux/if_link.h). */
export const XDP_FLAGS = { skbMode: 2, drvMode: 4 } as const;
/** enum bpf_map_type values used here (linux/bpf.h). */
export const MAP_TYPES = { array: 2 } as const;
/** BPF_F_INNER_MAP: inner maps of one outer map may differ in max_entries. */
export const BPF_F_INNER_MAP = 1 << 12;

/** XDP verdicts (enum xdp_action). */
export const XDP_VERDICTS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'] as const;
export type XdpVerdict = (typeof XDP_VERDICTS)[number];

export interface TestRunResult {
  readonly verdict: XdpVerdict;
  /** The packet as the program left it. */
  readonly packet: Uint8Array;
  /** Average ns per run, as the kernel measured it. */
  readonly durationNs: number;
}

export interface BpfObject {
  programFd(name: string): number;
  mapFd(name: string): number;
  close(): void;
}

export interface Libbpf {
  /** Opens and loads an object; maps marked for pinning are reused from (or pinned to) pinRoot. */
  openObject(path: string, pinRoot: string): BpfObject;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array): void;
  /** Returns undefined when the key is absent. */
  mapLookup(fd: number, key: Uint8Array, valueSize: number): Uint8Array | undefined;
  /** Returns false when the key was absent. */
  mapDelete(fd: number, key: Uint8Array): boolean;
  /** Key after `key` (or the first one), undefined at the end. */
  mapNextKey(fd: number, key: Uint8Array | undefined, keySize: number): Uint8Array | undefined;
  /** Writes `count` entries at once (keys and values back to back): one syscall. */
  mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number): void;
  mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags: number): number;
  xdpAttach(ifindex: number, progFd: number, flags: number): void;
  xdpDetach(ifindex: number, flags: number): void;
  /** Id of the program attached in that mode, 0 for none. */
  xdpQueryId(ifindex: number, flags: number): number;
  testRun(progFd: number, packet: Uint8Array, repeat?: number): TestRunResult;
  possibleCpus(): number;
  closeFd(fd: number): void;
  ifIndex(name: string): number;
}

function errnoName(errno: number): string {
  const entry = Object.entries(osConstants.errno).find(([, v]) => v === errno);
  return entry === undefined ? `errno ${errno}` : entry[0];
}

function fail(call: string, code: number): never {
  const errno = Math.abs(code);
  throw new XdpError(XdpErrorCode.kernelCallFailed, `${call} failed: ${errnoName(errno)} (${errno})`);
}

let cached: Libbpf | undefined;

/** Loads libbpf once per process. Throws XDP_LIBBPF_UNAVAILABLE naming the Debian package. */
export function loadLibbpf(library: string = LIBBPF): Libbpf {
  if (cached !== undefined) return cached;
  let koffi: KoffiModule;
  let lib: ReturnType<KoffiModule['load']>;
  let libc: ReturnType<KoffiModule['load']>;
  try {
    koffi = createRequire(import.meta.url)('koffi') as KoffiModule;
    lib = koffi.load(library);
    libc = koffi.load('libc.so.6');
  } catch (error) {
    throw new XdpError(
      XdpErrorCode.libbpfUnavailable,
      `could not load ${library} through koffi (Debian: apt-get install libbpf1): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  koffi.opaque('bpf_object');
  koffi.opaque('bpf_program');
  koffi.opaque('bpf_map');
  const openFile = lib.func('bpf_object *bpf_object__open_file(const char *path, const void *opts)');
  const load = lib.func('int bpf_object__load(bpf_object *obj)');
  const closeObject = lib.func('void bpf_object__close(bpf_object *obj)');
  const findProgram = lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)');
  const programFd = lib.func('int bpf_program__fd(bpf_program *prog)');
  const findMap = lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)');
  const mapFd = lib.func('int bpf_map__fd(bpf_map *map)');
  const update = lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)');
  const lookup = lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)');
  const del = lib.func('int bpf_map_delete_elem(int fd, const void *key)');
  const nextKey = lib.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)');
  const updateBatch = lib.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, uint32_t *count, const void *opts)');
  const create = lib.func('int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const void *opts)');
  const attach = lib.func('int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, const void *opts)');
  const detach = lib.func('int bpf_xdp_detach(int ifindex, uint32_t flags, const void *opts)');
  const queryId = lib.func('int bpf_xdp_query_id(int ifindex, int flags, uint32_t *prog_id)');
  const testRun = lib.func('int bpf_prog_test_run_opts(int prog_fd, void *opts)');
  const possibleCpus = lib.func('int libbpf_num_possible_cpus(void)');
  const closeFd = libc.func('int close(int fd)');
  const ifNameToIndex = libc.func('unsigned int if_nametoindex(const char *name)');

  const check = (call: string, rc: unknown): void => {
    if (typeof rc === 'number' && rc < 0) fail(call, rc);
  };

  cached = {
    openObject(path, pinRoot) {
      // struct bpf_object_open_opts up to pin_root_path (libbpf reads only `sz` bytes of it).
      const pinText = Buffer.from(`${pinRoot}\0`);
      const pinPtr = koffi.alloc('uint8_t', pinText.length);
      koffi.encode(pinPtr, 'uint8_t', [...pinText], pinText.length);
      const opts = Buffer.alloc(32);
      opts.writeBigUInt64LE(32n, 0); // sz
      opts.writeBigUInt64LE(koffi.address(pinPtr), 24); // pin_root_path
      try {
        const obj = openFile(path, opts);
        if (obj === null) fail(`bpf_object__open_file(${path})`, koffi.errno());
        const rc = load(obj) as number;
        if (rc < 0) {
          closeObject(obj);
          fail(`bpf_object__load(${path}) with maps pinned under ${pinRoot}`, rc);
        }
        return {
          programFd(name) {
            const prog = findProgram(obj, name);
            if (prog === null) throw new XdpError(XdpErrorCode.kernelCallFailed, `program ${name} is not in ${path}`);
            return programFd(prog) as number;
          },
          mapFd(name) {
            const map = findMap(obj, name);
            if (map === null) throw new XdpError(XdpErrorCode.kernelCallFailed, `map ${name} is not in ${path}`);
            return mapFd(map) as number;
          },
          close: () => closeObject(obj),
        };
      } finally {
        koffi.free(pinPtr);
      }
    },
    mapUpdate(fd, key, value) {
      check('bpf_map_update_elem', update(fd, key, value, 0));
    },
    mapLookup(fd, key, valueSize) {
      const out = new Uint8Array(valueSize);
      const rc = lookup(fd, key, out) as number;
      if (rc === -osConstants.errno.ENOENT) return undefined;
      check('bpf_map_lookup_elem', rc);
      return out;
    },
    mapDelete(fd, key) {
      const rc = del(fd, key) as number;
      if (rc === -osConstants.errno.ENOENT) return false;
      check('bpf_map_delete_elem', rc);
      return true;
    },
    mapNextKey(fd, key, keySize) {
      const out = new Uint8Array(keySize);
      const rc = nextKey(fd, key ?? null, out) as number;
      if (rc === -osConstants.errno.ENOENT) return undefined;
      check('bpf_map_get_next_key', rc);
      return out;
    },
    mapUpdateBatch(fd, keys, values, count) {
      const n = new Uint32Array([count]);
      check('bpf_map_update_batch', updateBatch(fd, keys, values, n, null));
    },
    mapCreate(type, name, keySize, valueSize, maxEntries, flags) {
      // struct bpf_map_create_opts (libbpf 1.1): sz at 0, map_flags at 28, 48 bytes in all.
      const opts = Buffer.alloc(48);
      opts.writeBigUInt64LE(48n, 0);
      opts.writeUInt32LE(flags, 28);
      const fd = create(type, name, keySize, valueSize, maxEntries, opts) as number;
      check(`bpf_map_create(${name}, ${maxEntries} entries)`, fd);
      return fd;
    },
    xdpAttach(ifindex, progFd, flags) {
      check(`bpf_xdp_attach(ifindex ${ifindex}, flags ${flags})`, attach(ifindex, progFd, flags, null));
    },
    xdpDetach(ifindex, flags) {
      check(`bpf_xdp_detach(ifindex ${ifindex})`, detach(ifindex, flags, null));
    },
    xdpQueryId(ifindex, flags) {
      const id = new Uint32Array(1);
      check(`bpf_xdp_query_id(ifindex ${ifindex})`, queryId(ifindex, flags, id));
      return id[0]!;
    },
    testRun(progFd, packet, repeat = 1) {
      // Room for programs that grow the packet (encapsulation adds headers).
      const outSize = packet.length + 256;
      const inPtr = koffi.alloc('uint8_t', Math.max(1, packet.length));
      const outPtr = koffi.alloc('uint8_t', outSize);
      try {
        koffi.encode(inPtr, 'uint8_t', [...packet], packet.length);
        // struct bpf_test_run_opts (libbpf 1.1), 80 bytes.
        const opts = Buffer.alloc(80);
        opts.writeBigUInt64LE(80n, 0);
        opts.writeBigUInt64LE(koffi.address(inPtr), 8);
        opts.writeBigUInt64LE(koffi.address(outPtr), 16);
        opts.writeUInt32LE(packet.length, 24);
        opts.writeUInt32LE(outSize, 28);
        opts.writeInt32LE(repeat, 60);
        check('bpf_prog_test_run_opts', testRun(progFd, opts));
        const retval = opts.readUInt32LE(56);
        const outLen = opts.readUInt32LE(28);
        const bytes = koffi.decode(outPtr, 'uint8_t', outLen) as number[];
        return { verdict: XDP_VERDICTS[retval] ?? 'XDP_ABORTED', packet: Uint8Array.from(bytes), durationNs: opts.readUInt32LE(64) };
      } finally {
        koffi.free(inPtr);
        koffi.free(outPtr);
      }
    },
    possibleCpus() {
      const n = possibleCpus() as number;
      check('libbpf_num_possible_cpus', n);
      return n;
    },
    closeFd(fd) {
      closeFd(fd);
    },
    ifIndex(name) {
      const index = ifNameToIndex(name) as number;
      if (index === 0) throw new XdpError(XdpErrorCode.badOptions, `interface ${name} does not exist in this network namespace`);
      return index;
    },
  };
  return cached;
}
