/**
 * GraphQL over HTTP, keeping partial results: an answer with `errors` still has `data`, and a court that did
 * not answer is one error (`extensions.court`, `extensions.code`, maybe `extensions.retryAfter`) beside the
 * other courts' data. This never throws on `errors`; it throws only when there is no GraphQL answer at all.
 */

import type { Operation } from "./operations";

export interface GraphQLErrorBody {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; court?: string; retryAfter?: number; stale?: boolean; [key: string]: unknown };
}

export interface Answer<T> {
  data: T | null;
  errors: GraphQLErrorBody[];
}

/** A court a list lacks, as `unavailableCourts` gives it. */
export interface UnavailableCourt {
  court: { code: string; name: string };
  code: string;
  retryAfter: number | null;
}

/** A court down whose items are shown from its last known answer, as `staleCourts` gives it. */
export interface StaleCourt {
  court: { code: string; name: string };
  asOf: string;
  ageSeconds: number;
}

export class NoAnswer extends Error {}

/** Run a registered operation: only its hash goes to the gateway (trusted documents). */
export async function graphql<T>(
  operation: Operation,
  variables: Record<string, unknown>,
  token: string | null,
): Promise<Answer<T>> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    Accept: "application/graphql-response+json, application/json",
  };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ documentId: `sha256:${operation.id}`, operationName: operation.name, variables }) });
  } catch (e) {
    throw new NoAnswer(`the gateway cannot be reached: ${String(e)}`);
  }
  let body: { data?: T | null; errors?: GraphQLErrorBody[] };
  try {
    body = await response.json();
  } catch {
    throw new NoAnswer(`the gateway answered HTTP ${response.status} without a GraphQL body`);
  }
  return { data: body.data ?? null, errors: body.errors ?? [] };
}

/** Courts missing from an answer: those a list names in `unavailableCourts`, and any other court error. */
export function missingCourts(lists: UnavailableCourt[], errors: GraphQLErrorBody[]): UnavailableCourt[] {
  const found = new Map<string, UnavailableCourt>();
  for (const u of lists) found.set(u.court.code, u);
  for (const e of errors) {
    if (e.extensions?.stale) continue; // shown from its last known answer: not missing (see `staleCourts`)
    const court = e.extensions?.court;
    if (court && !found.has(court)) {
      found.set(court, {
        court: { code: court, name: court },
        code: e.extensions?.code ?? "COURT_ERROR",
        retryAfter: e.extensions?.retryAfter ?? null,
      });
    }
  }
  return [...found.values()];
}

/** Errors that are not about a court: the request itself was refused (FORBIDDEN, NOT_FOUND …). */
export function requestErrors(errors: GraphQLErrorBody[]): GraphQLErrorBody[] {
  return errors.filter((e) => !e.extensions?.court);
}
