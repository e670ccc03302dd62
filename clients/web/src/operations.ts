/**
 * The client's operations: the demo client's trusted documents (`clients/operations/demo/*.graphql`),
 * registered at build time by hash in `clients/manifests/demo.json` (`court-gateway trusted-documents`).
 * The client sends only `documentId: "sha256:<hash>"`, so it works where the gateway runs nothing else
 * from first-party clients (production's `DOCUMENT_NOT_TRUSTED`). The bundle fails to load if an
 * operation is missing from the manifest: rebuild the manifest after changing an operation.
 */

import manifest from "../../manifests/demo.json";
import caseText from "../../operations/demo/Case.graphql";
import myCasesText from "../../operations/demo/MyCases.graphql";
import notificationAddedText from "../../operations/demo/NotificationAdded.graphql";
import signDocumentText from "../../operations/demo/SignDocument.graphql";

export interface Operation {
  name: string;
  /** the sha256 of the document text, its key in the manifest */
  id: string;
  /** the registered text (sent only where a transport requires one: graphql-ws's subscribe payload) */
  text: string;
}

function registered(name: string, text: string): Operation {
  const wanted = text.trim(); // what the manifest holds (court-gateway trusted-documents strips it too)
  const id = Object.entries(manifest as Record<string, string>).find(([, t]) => t === wanted)?.[0];
  if (!id) throw new Error(`operation ${name} is not in clients/manifests/demo.json: rebuild the manifest`);
  return { name, id, text: wanted };
}

export const MY_CASES = registered("MyCases", myCasesText);
export const CASE = registered("Case", caseText);
export const SIGN_DOCUMENT = registered("SignDocument", signDocumentText);
export const NOTIFICATION_ADDED = registered("NotificationAdded", notificationAddedText);
