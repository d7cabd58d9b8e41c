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
/** BPF_F_MMAPABLE: an array whose values can be mapped into this process and written directly. */
export const BPF_F_MMAPABLE = 1 << 10;

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
  /** Maps taken over from `reuse` (same type, key, value and size as the object declares). */
  readonly reused: readonly string[];
  close(): void;
}

/** A map of a loaded program, as the kernel describes it (bpf_map_info). */
export interface LoadedMap {
  /** The kernel keeps the first 15 characters of a map's name. */
  readonly name: string;
  readonly fd: number;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

/** Entries read by one lookup-batch pass: keys and values back to back. */
export interface BatchEntries {
  readonly count: number;
  readonly keys: Uint8Array;
  readonly values: Uint8Array;
}

export interface Libbpf {
  /**
   * Opens and loads an object; maps marked for pinning are reused from (or pinned to) pinRoot.
   * `reuse` (map name → fd) hands over maps of a program already running, used where no pin
   * exists; each is taken only if it matches the declaration, and is then pinned under pinRoot.
   */
  openObject(path: string, pinRoot: string, reuse?: ReadonlyMap<string, number>): BpfObject;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array): void;
  /** Returns undefined when the key is absent. */
  mapLookup(fd: number, key: Uint8Array, valueSize: number): Uint8Array | undefined;
  /** Returns false when the key was absent. */
  mapDelete(fd: number, key: Uint8Array): boolean;
  /** Key after `key` (or the first one), undefined at the end. */
  mapNextKey(fd: number, key: Uint8Array | undefined, keySize: number): Uint8Array | undefined;
  /** Every entry of a map (array or hash), read `chunk` at a time: a few syscalls, not one per key. */
  mapLookupAll(fd: number, keySize: number, valueSize: number, chunk: number): BatchEntries;
  /** The program's name and its maps (fds the caller must close). */
  programMaps(progId: number): { readonly name: string; readonly maps: readonly LoadedMap[] };
  /** Writes `count` entries at once (keys and values back to back): one syscall. */
  mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number): void;
  mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags: number): number;
  /**
   * Copies `values` over the start of a BPF_F_MMAPABLE array through a shared mapping: a few
   * syscalls in all, where a batch update costs one kernel step per entry.
   */
  mapWriteMmap(fd: number, values: Uint8Array): void;
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

/**
 * What a refusal means for the agent's privileges (the DaemonSet's capabilities, tested in
 * test/image-lab.test.ts): the kernel's reason is a bare errno, which names no capability.
 */
function privilegeHint(call: string, errno: number): string {
  const { EPERM, EACCES } = osConstants.errno;
  if (call.startsWith('bpf_object__load') && errno === EPERM) {
    return '; the bpf() syscall was refused: the agent needs CAP_BPF and CAP_PERFMON, and in a container CAP_SYS_ADMIN instead (default seccomp profiles allow bpf() only with it)';
  }
  if (call.startsWith('bpf_object__load') && errno === EACCES) return '; the verifier refused the program at this privilege: it needs CAP_PERFMON (or CAP_SYS_ADMIN) besides CAP_BPF';
  if (call.startsWith('bpf_xdp_attach') && errno === EPERM) return '; attaching XDP to a link needs CAP_NET_ADMIN';
  return '';
}

function fail(call: string, code: number): never {
  const errno = Math.abs(code);
  throw new XdpError(XdpErrorCode.kernelCallFailed, `${call} failed: ${errnoName(errno)} (${errno})${privilegeHint(call, errno)}`, undefined, errno);
}

let cached: Libbpf | undefined;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

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
  const reuseFd = lib.func('int bpf_map__reuse_fd(bpf_map *map, int fd)');
  const mapType = lib.func('int bpf_map__type(bpf_map *map)');
  const mapKeySize = lib.func('uint32_t bpf_map__key_size(bpf_map *map)');
  const mapValueSize = lib.func('uint32_t bpf_map__value_size(bpf_map *map)');
  const mapMaxEntries = lib.func('uint32_t bpf_map__max_entries(bpf_map *map)');
  const lookupBatch = lib.func('int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, uint32_t *count, const void *opts)');
  const progFdById = lib.func('int bpf_prog_get_fd_by_id(uint32_t id)');
  const mapFdById = lib.func('int bpf_map_get_fd_by_id(uint32_t id)');
  const objInfo = lib.func('int bpf_obj_get_info_by_fd(int fd, void *info, uint32_t *len)');
  const closeFd = libc.func('int close(int fd)');
  const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, intptr_t offset)');
  const munmap = libc.func('int munmap(void *addr, size_t length)');
  const memcpy = libc.func('void *memcpy(void *dst, const void *src, size_t n)');
  const sysconf = libc.func('long sysconf(int name)');
  const PAGE = Number(sysconf(30 /* _SC_PAGESIZE */));
  const ifNameToIndex = libc.func('unsigned int if_nametoindex(const char *name)');

  const check = (call: string, rc: unknown): void => {
    if (typeof rc === 'number' && rc < 0) fail(call, rc);
  };

  const cString = (bytes: Uint8Array): string => {
    const end = bytes.indexOf(0);
    return Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('utf8');
  };
  // struct bpf_map_info (linux/bpf.h): type, id, key_size, value_size, max_entries, map_flags, name[16].
  const mapInfo = (fd: number): Omit<LoadedMap, 'fd'> => {
    const info = Buffer.alloc(40);
    check('bpf_obj_get_info_by_fd(map)', objInfo(fd, info, new Uint32Array([info.length])));
    return {
      type: info.readUInt32LE(0),
      keySize: info.readUInt32LE(8),
      valueSize: info.readUInt32LE(12),
      maxEntries: info.readUInt32LE(16),
      name: cString(info.subarray(24, 40)),
    };
  };

  cached = {
    openObject(path, pinRoot, reuse) {
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
        const reused: string[] = [];
        for (const [name, fd] of reuse ?? []) {
          const map = findMap(obj, name);
          if (map === null) continue;
          const have = mapInfo(fd);
          // A map from an older object with another layout must not be handed to this program.
          if (have.type !== mapType(map) || have.keySize !== mapKeySize(map) || have.valueSize !== mapValueSize(map) || have.maxEntries !== mapMaxEntries(map)) continue;
          check(`bpf_map__reuse_fd(${name})`, reuseFd(map, fd)); // libbpf keeps a dup of fd
          reused.push(name);
        }
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
          reused,
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
    mapLookupAll(fd, keySize, valueSize, chunk) {
      const keyParts: Uint8Array[] = [];
      const valueParts: Uint8Array[] = [];
      let total = 0;
      // The batch cursor is opaque; for hash maps it is a bucket number (4 bytes), for arrays a key.
      const cursor = Math.max(keySize, 8);
      let inBatch: Uint8Array | null = null;
      for (;;) {
        const outBatch = new Uint8Array(cursor);
        const keys = new Uint8Array(keySize * chunk);
        const values = new Uint8Array(valueSize * chunk);
        const count = new Uint32Array([chunk]);
        const rc = lookupBatch(fd, inBatch, outBatch, keys, values, count, null) as number;
        const got = count[0]!;
        if (rc < 0 && rc !== -osConstants.errno.ENOENT) fail('bpf_map_lookup_batch', rc);
        if (got > 0) {
          keyParts.push(keys.subarray(0, got * keySize));
          valueParts.push(values.subarray(0, got * valueSize));
          total += got;
        }
        if (rc === -osConstants.errno.ENOENT) break; // the end of the map
        inBatch = outBatch;
      }
      return { count: total, keys: Buffer.concat(keyParts), values: Buffer.concat(valueParts) };
    },
    programMaps(progId) {
      const progFd = progFdById(progId) as number;
      check(`bpf_prog_get_fd_by_id(${progId})`, progFd);
      try {
        // struct bpf_prog_info: nr_map_ids at 52, map_ids (pointer) at 56, name[16] at 64.
        const probe = Buffer.alloc(80);
        check('bpf_obj_get_info_by_fd(prog)', objInfo(progFd, probe, new Uint32Array([probe.length])));
        const name = cString(probe.subarray(64, 80));
        const n = probe.readUInt32LE(52);
        const idsPtr = koffi.alloc('uint32_t', Math.max(1, n));
        let ids: number[];
        try {
          const info = Buffer.alloc(80);
          info.writeUInt32LE(n, 52);
          info.writeBigUInt64LE(koffi.address(idsPtr), 56);
          check('bpf_obj_get_info_by_fd(prog)', objInfo(progFd, info, new Uint32Array([info.length])));
          ids = n === 0 ? [] : (koffi.decode(idsPtr, 'uint32_t', n) as number[]);
        } finally {
          koffi.free(idsPtr);
        }
        const maps: LoadedMap[] = [];
        for (const id of ids) {
          const fd = mapFdById(id) as number;
          if (fd < 0) continue; // freed meanwhile
          maps.push({ fd, ...mapInfo(fd) });
        }
        return { name, maps };
      } finally {
        closeFd(progFd);
      }
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
    mapWriteMmap(fd, values) {
      const PROT_READ_WRITE = 3;
      const MAP_SHARED = 1;
      const length = Math.max(PAGE, Math.ceil(values.length / PAGE) * PAGE);
      const ptr = mmap(null, length, PROT_READ_WRITE, MAP_SHARED, fd, 0);
      if (ptr === null || koffi.address(ptr) === MAP_FAILED) fail(`mmap(map fd ${fd}, ${length} bytes)`, koffi.errno());
      try {
        memcpy(ptr, values, values.length);
      } finally {
        munmap(ptr, length);
      }
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
