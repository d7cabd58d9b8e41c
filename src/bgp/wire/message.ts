import type { AttributeContext } from './attributes.ts';
import { MessageType } from './constants.ts';
import { decodeHeader } from './header.ts';
import {
  decodeKeepalive,
  decodeNotification,
  decodeRouteRefresh,
  type KeepaliveMessage,
  type NotificationMessage,
  type RouteRefreshMessage,
} from './notification.ts';
import { decodeOpen, type OpenMessage } from './open.ts';
import { decodeUpdate, type UpdateMessage } from './update.ts';

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

/**
 * Decodes one whole message (as the MessageFramer returns them). Only ever returns a message or
 * throws a BgpMessageError: nothing else escapes, whatever the bytes.
 */
export function decodeMessage(bytes: Uint8Array, ctx: AttributeContext): BgpMessage {
  const { type } = decodeHeader(bytes);
  switch (type) {
    case MessageType.open:
      return decodeOpen(bytes);
    case MessageType.update:
      return decodeUpdate(bytes, ctx);
    case MessageType.notification:
      return decodeNotification(bytes);
    case MessageType.keepalive:
      return decodeKeepalive(bytes);
    case MessageType.routeRefresh:
      return decodeRouteRefresh(bytes);
  }
}
