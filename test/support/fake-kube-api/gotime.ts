// Times as the API server decodes them (Go's time.Parse with the RFC 3339 layouts) and writes
// them back: metav1.Time to whole seconds, metav1.MicroTime with exactly six fractional digits.
// The error texts are Go's, because clients (and the recordings) see them verbatim.

export const RFC3339 = '2006-01-02T15:04:05Z07:00';
export const RFC3339_MICRO = '2006-01-02T15:04:05.000000Z07:00';

interface Parsed {
  readonly utcMs: number;
  /** Fractional digits after the second, as sent ('' for none). */
  readonly fraction: string;
}

export class TimeParseError extends Error {}

/** Parses `value` with one of the two layouts; throws Go's message on failure. */
export function parseGoTime(value: string, layout: typeof RFC3339 | typeof RFC3339_MICRO): Parsed {
  let rest = value;
  const fail = (elem: string): never => {
    throw new TimeParseError(`parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(rest)} as ${JSON.stringify(elem)}`);
  };
  const digits = (n: number, elem: string): number => {
    const m = new RegExp(`^\\d{${n}}`).exec(rest);
    if (m === null) fail(elem);
    rest = rest.slice(n);
    return Number(m![0]);
  };
  const literal = (s: string): void => {
    if (!rest.startsWith(s)) fail(s);
    rest = rest.slice(s.length);
  };
  const year = digits(4, '2006');
  literal('-');
  const month = digits(2, '01');
  literal('-');
  const day = digits(2, '02');
  literal('T');
  const hour = digits(2, '15');
  literal(':');
  const minute = digits(2, '04');
  literal(':');
  const second = digits(2, '05');
  let fraction = '';
  if (layout === RFC3339_MICRO) {
    const m = /^\.\d{6}/.exec(rest);
    if (m === null) fail('.000000');
    fraction = m![0].slice(1);
    rest = rest.slice(7);
  } else {
    // Go accepts a fraction after the seconds even when the layout has none.
    const m = /^[.,]\d+/.exec(rest);
    if (m !== null) {
      fraction = m[0].slice(1);
      rest = rest.slice(m[0].length);
    }
  }
  let offsetMin = 0;
  if (rest.startsWith('Z')) rest = rest.slice(1);
  else {
    const m = /^([+-])(\d{2}):(\d{2})/.exec(rest);
    if (m === null) fail('Z07:00');
    offsetMin = (m![1] === '-' ? -1 : 1) * (Number(m![2]) * 60 + Number(m![3]));
    rest = rest.slice(6);
  }
  if (rest !== '') throw new TimeParseError(`parsing time ${JSON.stringify(value)}: extra text: ${JSON.stringify(rest)}`);
  return { utcMs: Date.UTC(year, month - 1, day, hour, minute, second) - offsetMin * 60_000, fraction };
}

const seconds = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

/** metav1.Time on the wire: UTC, whole seconds. */
export const formatTime = (p: Parsed): string => `${seconds(p.utcMs)}Z`;

/** metav1.MicroTime on the wire: UTC, six digits. */
export const formatMicroTime = (p: Parsed): string => `${seconds(p.utcMs)}.${p.fraction.padEnd(6, '0').slice(0, 6)}Z`;

/** Now, as a server-set metav1.Time (creationTimestamp, deletionTimestamp). */
export const nowTime = (offsetMs = 0): string => `${seconds(Date.now() + offsetMs)}Z`;
