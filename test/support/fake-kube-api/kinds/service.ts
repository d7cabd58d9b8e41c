// Services as the API server's registry treats them: defaults, cluster IP and node-port
// allocation, the type-dependent fields dropped on a type change, and the field checks whose
// messages vipgate and its users see (pkg/apis/core/validation).
import { isIP } from 'node:net';
import { field, type Cause } from '../errors.ts';
import { isObject, type JsonObject } from '../json.ts';
import { SERVICE } from '../known-fields.ts';
import { builtin, type Allocator, type ResourceType, type WriteContext } from '../resource-type.ts';
import { conditionTimes, int32, obj, objs } from './decode.ts';

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const IP_HELP = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';

const specOf = (o: JsonObject): JsonObject => (isObject(o['spec']) ? o['spec'] : (o['spec'] = {}));
const needsNodePorts = (s: JsonObject): boolean => s['type'] === 'NodePort' || (s['type'] === 'LoadBalancer' && s['allocateLoadBalancerNodePorts'] !== false);
const needsHealthCheckPort = (s: JsonObject): boolean => s['type'] === 'LoadBalancer' && s['externalTrafficPolicy'] === 'Local';
const externallyAccessible = (s: JsonObject): boolean =>
  s['type'] === 'NodePort' || s['type'] === 'LoadBalancer' || (Array.isArray(s['externalIPs']) && s['externalIPs'].length > 0);

function decode(o: JsonObject): void {
  const s = obj(o['spec']);
  for (const p of objs(s?.['ports'])) {
    int32(service, p['port'], 'ServicePort.spec.ports.port');
    int32(service, p['nodePort'], 'ServicePort.spec.ports.nodePort');
  }
  conditionTimes(service, obj(o['status'])?.['conditions']);
}

function prepare(o: JsonObject, ctx: WriteContext): void {
  if (ctx.subresource === 'status') {
    prepareStatus(o);
    return;
  }
  if (ctx.operation === 'CREATE') o['status'] = { loadBalancer: {} };
  const s = specOf(o);
  const old = ctx.old === undefined ? undefined : obj(ctx.old['spec']);
  s['type'] ??= 'ClusterIP';
  if (old !== undefined) {
    // A write that omits what the server allocated keeps it (kubectl replace, a PUT of an old copy).
    for (const k of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy'] as const) if (s[k] === undefined && old[k] !== undefined) s[k] = old[k];
    // dropTypeDependentFields: what only the old type needed goes with it.
    if (needsNodePorts(old) && !needsNodePorts(s)) for (const p of objs(s['ports'])) delete p['nodePort'];
    if (needsHealthCheckPort(old) && !needsHealthCheckPort(s) && s['healthCheckNodePort'] === old['healthCheckNodePort']) delete s['healthCheckNodePort'];
    if (old['type'] === 'LoadBalancer' && s['type'] !== 'LoadBalancer') {
      if (s['allocateLoadBalancerNodePorts'] === old['allocateLoadBalancerNodePorts']) delete s['allocateLoadBalancerNodePorts'];
      if (s['loadBalancerClass'] === old['loadBalancerClass']) delete s['loadBalancerClass'];
    }
  }
  s['sessionAffinity'] ??= 'None';
  if (s['sessionAffinity'] === 'ClientIP') s['sessionAffinityConfig'] ??= { clientIP: { timeoutSeconds: 10800 } };
  else delete s['sessionAffinityConfig'];
  for (const p of objs(s['ports'])) {
    p['protocol'] ??= 'TCP';
    p['targetPort'] ??= p['port'] ?? null;
  }
  if (s['type'] !== 'ExternalName') {
    s['internalTrafficPolicy'] ??= 'Cluster';
    s['ipFamilies'] ??= ['IPv4'];
    s['ipFamilyPolicy'] ??= 'SingleStack';
  }
  if (externallyAccessible(s)) s['externalTrafficPolicy'] ??= 'Cluster';
  else delete s['externalTrafficPolicy'];
  if (s['type'] === 'LoadBalancer') s['allocateLoadBalancerNodePorts'] ??= true;
}

function prepareStatus(o: JsonObject): void {
  const lb = obj(obj(o['status'])?.['loadBalancer']);
  // The LoadBalancerIPMode default: an ingress point with an IP is a VIP unless it says otherwise.
  for (const i of objs(lb?.['ingress'])) if (typeof i['ip'] === 'string' && i['ip'] !== '') i['ipMode'] ??= 'VIP';
}

function validate(o: JsonObject, ctx: WriteContext): Cause[] {
  const causes: Cause[] = [];
  const s = specOf(o);
  if (ctx.subresource !== 'status') {
    const type = s['type'];
    if (typeof type !== 'string' || !TYPES.includes(type)) causes.push(field.notSupported('spec.type', type, TYPES));
    const ports = objs(s['ports']);
    if (type !== 'ExternalName' && ports.length === 0) causes.push(field.required('spec.ports'));
    ports.forEach((p, i) => {
      const at = `spec.ports[${i}]`;
      if (ports.length > 1 && (typeof p['name'] !== 'string' || p['name'] === '')) causes.push(field.required(`${at}.name`));
      const port = p['port'];
      if (typeof port !== 'number' || port < 1 || port > 65535) causes.push(field.invalid(`${at}.port`, port ?? 0, 'must be between 1 and 65535, inclusive'));
      const nodePort = p['nodePort'];
      if (nodePort !== undefined && nodePort !== null) {
        if (type !== 'NodePort' && type !== 'LoadBalancer') causes.push(field.forbidden(`${at}.nodePort`, `may not be used when \`type\` is '${typeof type === 'string' ? type : ''}'`));
        else if (typeof nodePort !== 'number' || nodePort < 30000 || nodePort > 32767) {
          causes.push(field.invalid(`${at}.nodePort`, nodePort, 'provided port is not in the valid range. The range of valid ports is 30000-32767'));
        }
      }
    });
    if (s['loadBalancerClass'] !== undefined && type !== 'LoadBalancer') causes.push(field.forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
    const old = ctx.old === undefined ? undefined : obj(ctx.old['spec']);
    if (old?.['type'] === 'LoadBalancer' && type === 'LoadBalancer' && s['loadBalancerClass'] !== old['loadBalancerClass']) {
      causes.push(field.invalid('spec.loadBalancerClass', s['loadBalancerClass'] ?? null, 'may not change once set'));
    }
    if (s['allocateLoadBalancerNodePorts'] !== undefined && type !== 'LoadBalancer') {
      causes.push(field.forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
    }
    (Array.isArray(s['externalIPs']) ? s['externalIPs'] : []).forEach((ip, i) => {
      if (typeof ip !== 'string' || isIP(ip) === 0) causes.push(field.invalid(`spec.externalIPs[${i}]`, ip, IP_HELP));
    });
  }
  const ingress = obj(obj(o['status'])?.['loadBalancer'])?.['ingress'];
  if (Array.isArray(ingress) && ingress.length > 0 && s['type'] !== 'LoadBalancer') {
    causes.push(field.forbidden('status.loadBalancer.ingress', "may only be used when `spec.type` is 'LoadBalancer'"));
  }
  objs(ingress).forEach((i, n) => {
    const at = `status.loadBalancer.ingress[${n}]`;
    const ip = i['ip'];
    if (ip !== undefined && ip !== '' && (typeof ip !== 'string' || isIP(ip) === 0)) causes.push(field.invalid(`${at}.ip`, ip, IP_HELP));
    const mode = i['ipMode'];
    if (mode !== undefined && mode !== null) {
      if (mode !== 'Proxy' && mode !== 'VIP') causes.push(field.notSupported(`${at}.ipMode`, mode, ['Proxy', 'VIP']));
      else if (ip === undefined || ip === '') causes.push(field.forbidden(`${at}.ipMode`, 'may not be specified when `ip` is not set'));
    }
  });
  return causes;
}

function allocate(o: JsonObject, ctx: WriteContext): void {
  if (ctx.subresource === 'status') return;
  const s = specOf(o);
  const a = ctx.allocator;
  if (s['type'] !== 'ExternalName') {
    if (s['clusterIP'] === undefined || s['clusterIP'] === '') s['clusterIP'] = a.clusterIP();
    else if (typeof s['clusterIP'] === 'string' && s['clusterIP'] !== 'None') a.clusterIPs.add(s['clusterIP']);
    s['clusterIPs'] ??= [s['clusterIP']];
  }
  const ports = objs(s['ports']);
  if (needsNodePorts(s)) {
    for (const p of ports) {
      if (typeof p['nodePort'] === 'number') a.nodePorts.add(p['nodePort']);
      else p['nodePort'] = a.nodePort();
    }
  }
  if (needsHealthCheckPort(s)) {
    if (typeof s['healthCheckNodePort'] === 'number') a.nodePorts.add(s['healthCheckNodePort']);
    else s['healthCheckNodePort'] = a.nodePort();
  }
  if (ctx.old !== undefined) {
    const keep = new Set(heldPorts(o));
    for (const p of heldPorts(ctx.old)) if (!keep.has(p)) a.nodePorts.delete(p);
  }
}

function heldPorts(o: JsonObject): number[] {
  const s = obj(o['spec']) ?? {};
  const out = objs(s['ports']).map((p) => p['nodePort']).filter((p): p is number => typeof p === 'number');
  if (typeof s['healthCheckNodePort'] === 'number') out.push(s['healthCheckNodePort']);
  return out;
}

function release(o: JsonObject, a: Allocator): void {
  for (const ip of Array.isArray(obj(o['spec'])?.['clusterIPs']) ? (obj(o['spec'])!['clusterIPs'] as string[]) : []) a.clusterIPs.delete(ip);
  for (const p of heldPorts(o)) a.nodePorts.delete(p);
}

export const service: ResourceType = builtin({
  group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, hasStatus: true, deleteReturnsObject: true,
  known: SERVICE, decode, prepare, validate, allocate, release,
});
