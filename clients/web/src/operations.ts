/**
 * The client's operations: the demo client's trusted documents (`clients/operations/demo/*.graphql`),
 * registered at build time by hash in `clients/manifests/demo.json` (`court-gateway trusted-documents`).
 * The client sends only `documentId: "sha256:<hash>"`, so it works where the gateway runs nothing else
 * from first-party clients (production's `DOCUMENT_NOT_TRUSTED`). The bundle fails to load if an
 * operation is missing from the manifest: rebuild the manifest after changing an operation.
 */

import manifest from "../../manifests/demo.json";

export interface Operation {
  name: string;
  /** the sha256 of the document text, its key in the manifest */
  id: string;
  /** the registered text (sent only where a transport requires one: graphql-ws's subscribe payload) */
  text: string;
}

/** The manifest's operation called ``name`` (its document defines that one operation). */
function registered(name: string): Operation {
  const heading = new RegExp(`^(query|mutation|subscription) ${name}\\b`);
  const found = Object.entries(manifest as Record<string, string>).find(([, text]) => heading.test(text));
  if (!found) throw new Error(`operation ${name} is not in clients/manifests/demo.json: rebuild the manifest`);
  return { name, id: found[0], text: found[1] };
}

export const MY_CASES = registered("MyCases");
export const CASE = registered("Case");
export const SIGN_DOCUMENT = registered("SignDocument");
export const NOTIFICATION_ADDED = registered("NotificationAdded");
