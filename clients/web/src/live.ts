/** Live notifications over graphql-ws (graphql-transport-ws), the token in the connection_init payload. */

import { createClient, type Client, type SubscribePayload } from "graphql-ws";

import { NOTIFICATION_ADDED } from "./operations";

export interface Notice {
  id: string;
  title: string;
  body: string;
  caseNumber: string | null;
  createdAt: string;
}


/** Subscribe to the viewer's new notifications; returns a function that stops. */
export function followNotifications(
  token: string,
  onNotice: (notice: Notice) => void,
  onState: (state: string) => void,
): () => void {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  const client: Client = createClient({
    url,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: Infinity,
    // 4403: the gateway refused the token (expired, revoked): retrying cannot help, signing in again can
    // (anything but a closed socket is a bug here, and retrying it would spin)
    shouldRetry: (event) => event instanceof CloseEvent && event.code !== 4403,
    on: {
      connected: () => onState("live"),
      closed: () => onState("reconnecting"),
    },
  });
  // (a client that must not miss any across a reconnect passes `after:` the last id it saw)
  const stop = client.subscribe<{ notificationAdded: Notice }>(
    // a trusted document: named by hash; graphql-ws requires the text too, which the gateway checks against it
    { query: NOTIFICATION_ADDED.text, documentId: `sha256:${NOTIFICATION_ADDED.id}` } as SubscribePayload,
    {
      next: (message) => {
        const notice = message.data?.notificationAdded;
        if (notice) onNotice(notice);
      },
      error: () => onState("error"),
      complete: () => onState("closed"),
    },
  );
  return () => {
    stop();
    void client.dispose();
  };
}
