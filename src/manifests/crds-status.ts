import type { ICustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { crd } from './crd.ts';
import { bool, int, list, obj, str } from './schema.ts';

const dateTime = (description: string): { type: 'string'; format: 'date-time'; description: string } => ({ type: 'string', format: 'date-time', description });

/**
 * Written by the agent of the node it is named after, read by the controller to set the
 * Services' Served and Announced conditions (docs/design/019-service-conditions.md). Kept small
 * whatever the number of Services: counts, and a bounded list of what is wrong here.
 */
const nodeStatus = obj('What this LB node reads back from its kernel and its BGP/L2 peers.', {
  observedAt: dateTime('When the agent last looked; a report older than 3 × refreshSeconds is stale and ignored.'),
  refreshSeconds: int('The agent writes at least this often, changed or not.', 1, 86400),
  services: int('Services this node reports on.', 0, 1_000_000),
  served: int('Of those, served here: frontends read back from the kernel as the table says.', 0, 1_000_000),
  announced: int('Of those, announced from here: a BGP route sent on an Established session, or ARP/NDP answered (L2).', 0, 1_000_000),
  announcementChecked: bool('False with static routes: nothing on this node can check that clients were told.'),
  problems: list(
    'Services not served or not announced here, sorted by Service; at most 500.',
    obj('One problem.', {
      service: str('namespace/name.', { maxLength: 317 }),
      condition: str('Which condition it breaks.', { enum: ['Served', 'Announced'] }),
      reason: str('CamelCase reason code.', { maxLength: 64 }),
      message: str('What this node sees.', { maxLength: 256 }),
      since: dateTime('When this node first saw it.'),
    }, ['service', 'condition', 'reason', 'message', 'since']),
    500,
  ),
  truncated: bool('More problems than the list holds; the Services left out count as unknown from this node.'),
});

export function lbNodeStatusCrd(): ICustomResourceDefinition {
  return crd({
    kind: 'LBNodeStatus',
    description: 'One LB node\'s read-back of the Services it serves, written by its agent. Named after the node.',
    spec: obj('Empty: everything is in status.', {}),
    status: nodeStatus,
    columns: [
      { name: 'Services', type: 'integer', jsonPath: '.status.services' },
      { name: 'Served', type: 'integer', jsonPath: '.status.served' },
      { name: 'Announced', type: 'integer', jsonPath: '.status.announced' },
      { name: 'Observed', type: 'date', jsonPath: '.status.observedAt' },
    ],
  });
}
