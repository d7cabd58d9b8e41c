// Numbers of the kernel's netlink and nf_tables ABI used by the element writer and reader.
// Sources: include/uapi/linux/netlink.h, linux/netfilter/nfnetlink.h,
// linux/netfilter/nf_tables.h (kernel 6.18), cross-checked against `nft --debug=mnl` of nft
// 1.0.6 on this machine. The ABI is stable: these values never change.

export const Netlink = {
  AF_NETLINK: 16,
  SOCK_RAW: 3,
  SOCK_CLOEXEC: 0o2000000,
  NETLINK_NETFILTER: 12,
  SOL_NETLINK: 270,
  /** Error replies carry only the failed message's header, not its (up to 64 KB) payload. */
  NETLINK_CAP_ACK: 10,
  /** Error replies carry the offset of the attribute the kernel refused (NLMSGERR_ATTR_OFFS). */
  NETLINK_EXT_ACK: 11,
  NLMSG_HDRLEN: 16,
  NLMSG_NOOP: 1,
  NLMSG_ERROR: 2,
  NLMSG_DONE: 3,
  NLMSG_OVERRUN: 4,
  NLM_F_REQUEST: 0x1,
  NLM_F_MULTI: 0x2,
  NLM_F_ACK: 0x4,
  NLM_F_DUMP_INTR: 0x10,
  NLM_F_DUMP: 0x300,
  /** In an NLMSG_ERROR reply's own header: TLVs follow the (capped) original header. */
  NLM_F_CAPPED: 0x100,
  NLM_F_ACK_TLVS: 0x200,
  NLMSGERR_ATTR_MSG: 1,
  NLMSGERR_ATTR_OFFS: 2,
  NLA_F_NESTED: 0x8000,
  NLA_TYPE_MASK: 0x3fff,
} as const;

export const Socket = {
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_RCVTIMEO: 20,
  SO_SNDBUFFORCE: 32,
  SO_RCVBUFFORCE: 33,
  MSG_DONTWAIT: 0x40,
  EAGAIN: 11,
  EINTR: 4,
} as const;

export const Nfnl = {
  /** nfgenmsg: family, version, res_id (big-endian). */
  NFGENMSG_LEN: 4,
  NFNETLINK_V0: 0,
  NFNL_SUBSYS_NFTABLES: 10,
  NFNL_MSG_BATCH_BEGIN: 16,
  NFNL_MSG_BATCH_END: 17,
  NFPROTO_INET: 1,
} as const;

/** enum nf_tables_msg_types */
export const NftMsg = {
  NEWSETELEM: 12,
  GETSETELEM: 13,
  DELSETELEM: 14,
} as const;

/** enum nft_set_elem_list_attributes */
export const SetElemList = {
  TABLE: 1,
  SET: 2,
  ELEMENTS: 3,
} as const;

/** NFTA_LIST_ELEM: each element of a nested list. */
export const NFTA_LIST_ELEM = 1;

/** enum nft_set_elem_attributes */
export const SetElem = {
  KEY: 1,
  DATA: 2,
  FLAGS: 3,
  USERDATA: 6,
  EXPR: 7,
  KEY_END: 10,
  EXPRESSIONS: 11,
} as const;

/** enum nft_set_elem_flags */
export const NFT_SET_ELEM_INTERVAL_END = 0x1;

/** enum nft_data_attributes */
export const DataAttr = { VALUE: 1, VERDICT: 2 } as const;

/** enum nft_verdict_attributes */
export const VerdictAttr = { CODE: 1, CHAIN: 2 } as const;

/** Verdict codes (signed 32-bit, big-endian on the wire): NF_DROP, NF_ACCEPT, enum nft_verdicts. */
export const VerdictCode = {
  drop: 0,
  accept: 1,
  continue: -1,
  break: -2,
  jump: -3,
  goto: -4,
  return: -5,
} as const;

/** enum nft_expr_attributes, enum nft_counter_attributes */
export const ExprAttr = { NAME: 1, DATA: 2 } as const;
export const CounterAttr = { BYTES: 1, PACKETS: 2 } as const;

/**
 * libnftnl's element user data (NFTNL_UDATA_SET_ELEM_FLAGS = 1, a u32 in host order) and its
 * NFTNL_SET_ELEM_F_INTERVAL_OPEN bit: nft marks the start of an interval that runs to the top
 * of the address space (which has no end element), and reads the mark back when it lists.
 */
export const NFTNL_UDATA_SET_ELEM_FLAGS = 1;
export const NFTNL_SET_ELEM_F_INTERVAL_OPEN = 0x1;
