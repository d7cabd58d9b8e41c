// Authentication by bearer token and RBAC authorization from the stored Roles and bindings,
// with the real server's 403 text. `admin` (and any token the fake does not know, such as the
// kubeconfig's `fake-token`) is system:masters; `alice` is an ordinary user with no groups.
import { ApiError } from './errors.ts';
import { isObject, type JsonObject } from './json.ts';
import { objs } from './kinds/decode.ts';

export interface UserInfo {
  readonly username: string;
  readonly groups: readonly string[];
}

const ADMIN: UserInfo = { username: 'admin', groups: ['system:masters', 'system:authenticated'] };

export function authenticate(authorization: string | undefined): UserInfo {
  const token = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();
  if (token === 'alice') return { username: 'alice', groups: ['system:authenticated'] };
  return ADMIN;
}

export interface RequestAttributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource: string | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

/** What authorization reads: the stored RBAC objects. */
export interface RbacObjects {
  clusterRoles(): readonly JsonObject[];
  clusterRoleBindings(): readonly JsonObject[];
  roles(namespace: string): readonly JsonObject[];
  roleBindings(namespace: string): readonly JsonObject[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

function bound(binding: JsonObject, user: UserInfo): boolean {
  return objs(binding['subjects']).some((s) => (s['kind'] === 'User' && s['name'] === user.username) || (s['kind'] === 'Group' && user.groups.includes(str(s['name']) ?? '')));
}

function allows(rule: JsonObject, a: RequestAttributes): boolean {
  const resource = a.subresource === undefined ? a.resource : `${a.resource}/${a.subresource}`;
  const verbs = strs(rule['verbs']);
  const groups = strs(rule['apiGroups']);
  const resources = strs(rule['resources']);
  const names = strs(rule['resourceNames']);
  return (verbs.includes('*') || verbs.includes(a.verb))
    && (groups.includes('*') || groups.includes(a.group))
    && (resources.includes('*') || resources.includes(resource) || (a.subresource !== undefined && resources.includes(`*/${a.subresource}`)))
    && (names.length === 0 || (a.name !== undefined && names.includes(a.name)));
}

function rulesOf(ref: JsonObject | undefined, namespace: string | undefined, rbac: RbacObjects): JsonObject[] {
  if (ref === undefined) return [];
  const name = str(ref['name']);
  const role = ref['kind'] === 'ClusterRole'
    ? rbac.clusterRoles().find((r) => isObject(r['metadata']) && r['metadata']['name'] === name)
    : namespace === undefined ? undefined : rbac.roles(namespace).find((r) => isObject(r['metadata']) && r['metadata']['name'] === name);
  return objs(role?.['rules']);
}

export function authorize(user: UserInfo, a: RequestAttributes, rbac: RbacObjects): void {
  if (user.groups.includes('system:masters')) return;
  const rules: JsonObject[] = [];
  for (const b of rbac.clusterRoleBindings()) if (bound(b, user)) rules.push(...rulesOf(isObject(b['roleRef']) ? b['roleRef'] : undefined, undefined, rbac));
  if (a.namespace !== undefined) {
    for (const b of rbac.roleBindings(a.namespace)) if (bound(b, user)) rules.push(...rulesOf(isObject(b['roleRef']) ? b['roleRef'] : undefined, a.namespace, rbac));
  }
  if (rules.some((r) => allows(r, a))) return;
  const resource = a.subresource === undefined ? a.resource : `${a.resource}/${a.subresource}`;
  const qualified = a.group === '' ? resource : `${a.resource}.${a.group}${a.subresource === undefined ? '' : `/${a.subresource}`}`;
  const where = a.namespace === undefined ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
  const subject = a.name === undefined ? `${qualified} is forbidden` : `${qualified} "${a.name}" is forbidden`;
  throw new ApiError(403, 'Forbidden', `${subject}: User "${user.username}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${where}`, {
    ...(a.name === undefined ? {} : { name: a.name }), ...(a.group === '' ? {} : { group: a.group }), kind: a.resource,
  });
}
