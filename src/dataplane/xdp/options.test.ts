import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdpError, XdpErrorCode, xdpDataplane, type XdpDataplaneOptions } from './index.ts';

const base: XdpDataplaneOptions = { interfaces: [], mode: 'generic', forwarding: 'ipip', pinDir: '/nonexistent', fib: false };

test('xdpDataplane refuses an encap MTU IPv6 could not live with, and a GUE port outside 1–65535, naming what is allowed', () => {
  const refused = (options: Partial<XdpDataplaneOptions>, allowed: RegExp): void => {
    assert.throws(
      () => xdpDataplane({ ...base, ...options }),
      (e: unknown) => e instanceof XdpError && e.code === XdpErrorCode.badOptions && allowed.test(e.message),
    );
  };
  refused({ mtu: 1327 }, /mtu must be an integer 1328–65535/);
  refused({ mtu: 1500.5 }, /mtu must be an integer/);
  refused({ guePort: 0 }, /guePort must be an integer 1–65535/);
  refused({ guePort: 65_536 }, /guePort must be an integer 1–65535/);
  // Accepted (nothing is loaded until the first apply).
  assert.equal(xdpDataplane({ ...base, mtu: 1328, guePort: 6080 }).engine, 'xdp');
});
