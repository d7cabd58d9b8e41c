// Tests write elements the way nft prints them; this turns that text into the structures the
// dataplane produces (set-elements.ts). Only for tests: the dataplane never parses element text
// to write it.
import { Protocols, type Protocol } from '../../../model/index.ts';
import { parseCidr, parseIp, type IpAddress } from '../../../net/index.ts';
import type { ElementOp } from '../diff.ts';
import { SET_LAYOUTS } from '../netlink/elements.ts';
import { elementKind } from '../netlink/encode.ts';
import type { SetName } from '../render.ts';
import { prefixOf, type Prefix, type SetElement, type Slot, type VipKey } from '../set-elements.ts';

const SEP = ' . ';

const address = (text: string): IpAddress => parseIp(text);

export function vipOf(text: string): VipKey {
  const [a, protocol, port] = text.split(SEP) as [string, string, string];
  if (!(Protocols as readonly string[]).includes(protocol)) throw new Error(`"${protocol}" is no protocol`);
  return { address: address(a), protocol: protocol as Protocol, port: Number(port), text };
}

export function slotOf(text: string): Slot {
  const [a, port] = text.split(SEP) as [string, string];
  return { address: address(a), port: Number(port), text };
}

export function prefixText(text: string): Prefix {
  const p = prefixOf(parseCidr(text));
  return p.text === text ? p : { ...p, text };
}

/** One element of `set` from its nft text (`10.200.0.5 . tcp . 80 . 3 : 10.100.1.41 . 8080`). */
export function parseElement(set: SetName, text: string): SetElement {
  const colon = text.indexOf(' : ');
  const key = colon < 0 ? text : text.slice(0, colon);
  const value = colon < 0 ? undefined : text.slice(colon + 3);
  const kind = elementKind(SET_LAYOUTS[set]);
  switch (kind) {
    case 'prefix':
      return { kind, prefix: prefixText(key) };
    case 'vip':
      return { kind, vip: vipOf(key) };
    case 'frontend': {
      const goto = value === undefined ? undefined : /^goto (\S+)$/.exec(value)?.[1];
      if (value !== undefined && goto === undefined) throw new Error(`"${value}" is no goto`);
      return goto === undefined ? { kind, vip: vipOf(key) } : { kind, vip: vipOf(key), goto };
    }
    case 'slot': {
      const cut = key.lastIndexOf(SEP);
      const base = { kind, vip: vipOf(key.slice(0, cut)), slot: Number(key.slice(cut + SEP.length)) };
      return value === undefined ? base : { ...base, backend: slotOf(value) };
    }
    case 'source': {
      const cut = key.lastIndexOf(SEP);
      return { kind, vip: vipOf(key.slice(0, cut)), source: prefixText(key.slice(cut + SEP.length)) };
    }
  }
}

/** An element op from nft text. */
export function opOf(verb: 'add' | 'delete', set: SetName, texts: readonly string[]): ElementOp {
  return { verb, set, elements: texts.map((t) => parseElement(set, t)) };
}
