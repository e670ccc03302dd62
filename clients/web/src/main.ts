/**
 * The reference web client: sign in as a demo user, my cases across courts page by page with a banner for
 * each court that did not answer, a case page with its served documents and a sign action, and live
 * notifications. It exists to prove the API contract from a browser; every text shown comes from the API.
 */

import {
  graphql,
  missingCourts,
  requestErrors,
  type GraphQLErrorBody,
  type StaleCourt,
  type UnavailableCourt,
} from "./api";
import { followNotifications, type Notice } from "./live";
import { CASE, MY_CASES, SIGN_DOCUMENT } from "./operations";

const PAGE_SIZE = 5;
const TOKEN_KEY = "court-gateway.token";
const NAME_KEY = "court-gateway.name";

interface CaseRow {
  id: string;
  caseNumber: string;
  courtCode: string;
  cause: string;
  status: string;
  filedOn: string;
}

interface MyCasesData {
  myCases: {
    totalCount: number | null;
    edges: { node: CaseRow }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    unavailableCourts: UnavailableCourt[];
    staleCourts: StaleCourt[];
  };
}

interface Document {
  id: string;
  title: string;
  docType: string;
  firstServedAt: string;
  signed: boolean;
  signature: { status: string; signedAt: string } | null;
}

interface CaseData {
  case:
    | (CaseRow & {
        division: string;
        servedDocuments: Document[] | null;
        stale: { asOf: string; ageSeconds: number } | null;
      })
    | null;
}

// -- a little DOM helper: text always goes in as text, never as HTML ----------------------------------------

type Child = Node | string | null | undefined | false;

function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  for (const child of children) if (child) element.append(child);
  return element;
}

function byId(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

function button(label: string, attrs: Record<string, string>, onClick: () => void): HTMLElement {
  const b = h("button", { type: "button", ...attrs }, label);
  b.addEventListener("click", onClick);
  return b;
}

// -- state ------------------------------------------------------------------------------------------------

let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let stopLive: (() => void) | null = null;
/** the cursors that start each page seen so far (page 1 starts at null), for going back */
let pageStarts: (string | null)[] = [null];

function show(...children: Child[]): void {
  byId("main").replaceChildren(...children.filter((c): c is Node | string => Boolean(c)));
}

/** The banner: one line per court missing from the last answer or shown from its last known answer, and any
 * error about the request itself. */
function banner(missing: UnavailableCourt[], other: GraphQLErrorBody[] = [], stale: StaleCourt[] = []): void {
  const lines = missing.map((m) =>
    h(
      "p",
      { class: "court-unavailable", "data-court": m.court.code },
      `${m.court.name} (${m.court.code}) unavailable: ${m.code}. Its items are missing from this page`,
      m.retryAfter !== null ? `; try again in ${m.retryAfter} s.` : "; try again later.",
    ),
  );
  const old = stale.map((m) =>
    h(
      "p",
      { class: "court-stale", "data-court": m.court.code },
      `${m.court.name} (${m.court.code}) unavailable: its items are shown from its last known answer, `,
      `${m.ageSeconds} s old (as of ${m.asOf}).`,
    ),
  );
  const errors = other.map((e) =>
    h("p", { class: "request-error", "data-code": e.extensions?.code ?? "" }, `${e.extensions?.code ?? "ERROR"}: ${e.message}`),
  );
  byId("banner").replaceChildren(...lines, ...old, ...errors);
  byId("banner").hidden = lines.length + old.length + errors.length === 0;
}

// -- sign in ------------------------------------------------------------------------------------------------

async function signInView(): Promise<void> {
  byId("who").textContent = "";
  banner([]);
  const answer = await fetch("/demo/login").then((r) => (r.ok ? r.json() : { logins: [] }));
  const logins: string[] = answer.logins ?? [];
  const select = h("select", { id: "login" }, ...logins.map((l) => h("option", { value: l }, l))) as HTMLSelectElement;
  const status = h("p", { id: "signin-status" });
  const go = button("Sign in", { id: "signin" }, async () => {
    const reply = await fetch("/demo/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ login: select.value }),
    });
    const body = await reply.json();
    if (!reply.ok || !body.token) {
      status.textContent = body.errors?.[0]?.message ?? `sign-in refused (HTTP ${reply.status})`;
      return;
    }
    token = body.token as string;
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(NAME_KEY, String(body.name ?? ""));
    location.hash = "#/cases";
    void route();
  });
  show(
    h("h2", {}, "Sign in"),
    h("p", {}, "The demo identity provider signs you in as one of the demo's people."),
    h("label", { for: "login" }, "Demo login "),
    select,
    " ",
    go,
    status,
  );
}

function signOut(): void {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(NAME_KEY);
  stopLive?.();
  stopLive = null;
  byId("live-state").textContent = "off";
  byId("live-state").dataset.state = "off";
  byId("notifications-list").replaceChildren();
  location.hash = "#/";
  void route();
}

// -- my cases -----------------------------------------------------------------------------------------------

/** A token the gateway no longer accepts (expired, or signed by another key): sign in again. */
function signedOut(errors: GraphQLErrorBody[]): boolean {
  if (!errors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) return false;
  signOut();
  return true;
}

async function casesView(pageIndex: number): Promise<void> {
  const after = pageStarts[pageIndex] ?? null;
  const answer = await graphql<MyCasesData>(MY_CASES, { first: PAGE_SIZE, after }, token);
  if (signedOut(answer.errors)) return;
  const list = answer.data?.myCases;
  banner(missingCourts(list?.unavailableCourts ?? [], answer.errors), requestErrors(answer.errors), list?.staleCourts);
  if (!list) {
    show(h("h2", {}, "My cases"), h("p", {}, "No cases could be listed."));
    return;
  }
  startLive(); // the token has just proved good
  byId("who").textContent = sessionStorage.getItem(NAME_KEY) ?? "";
  const total = list.totalCount;
  const pages = total === null ? null : Math.max(1, Math.ceil(total / PAGE_SIZE));
  const rows = list.edges.map(({ node }) =>
    h(
      "tr",
      { class: "case-row", "data-court": node.courtCode },
      h("td", {}, h("a", { href: `#/case/${encodeURIComponent(node.caseNumber)}`, class: "case-link" }, node.caseNumber)),
      h("td", {}, node.courtCode),
      h("td", {}, node.cause),
      h("td", {}, node.status),
      h("td", {}, node.filedOn),
    ),
  );
  const next = list.pageInfo.hasNextPage && list.pageInfo.endCursor;
  show(
    h("h2", {}, "My cases"),
    h(
      "p",
      { id: "page-status" },
      `Page ${pageIndex + 1}${pages === null ? "" : ` of ${pages}`}`,
      total === null ? " (the total is unknown while a court is missing)" : ` · ${total} cases`,
    ),
    h(
      "table",
      { id: "cases" },
      h("thead", {}, h("tr", {}, ...["Case number", "Court", "Cause", "Status", "Filed"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...rows),
    ),
    h(
      "nav",
      { class: "pager" },
      pageIndex > 0 && button("Previous page", { id: "prev-page" }, () => void casesView(pageIndex - 1)),
      next &&
        button("Next page", { id: "next-page" }, () => {
          pageStarts = [...pageStarts.slice(0, pageIndex + 1), list.pageInfo.endCursor];
          void casesView(pageIndex + 1);
        }),
      button("Refresh", { id: "refresh" }, () => void casesView(pageIndex)),
    ),
  );
}

// -- one case -----------------------------------------------------------------------------------------------

async function caseView(caseNumber: string): Promise<void> {
  const answer = await graphql<CaseData>(CASE, { caseNumber }, token);
  if (signedOut(answer.errors)) return;
  banner(missingCourts([], answer.errors), requestErrors(answer.errors));
  const found = answer.data?.case;
  if (answer.data) startLive();
  const back = h("a", { href: "#/cases", id: "back" }, "← My cases");
  if (!found) {
    show(back, h("h2", {}, caseNumber), h("p", {}, "This case cannot be shown now."));
    return;
  }
  const documents = found.servedDocuments;
  const status = h("p", { id: "sign-status" });
  const items = (documents ?? []).map((d) =>
    h(
      "li",
      { class: "document", "data-id": d.id },
      h("span", { class: "title" }, d.title),
      ` · ${d.docType} · served ${d.firstServedAt} · `,
      d.signed || d.signature
        ? h("span", { class: "signed" }, `signed${d.signature ? ` (${d.signature.status})` : ""}`)
        : button("Sign", { class: "sign" }, async () => {
            const reply = await graphql<{ signDocument: { status: string } | null }>(SIGN_DOCUMENT, { documentId: d.id }, token);
            if (reply.data?.signDocument) {
              await caseView(caseNumber); // the document as the gateway now has it
              byId("sign-status").textContent = `Signed: ${d.title} (${reply.data.signDocument.status})`;
            } else {
              status.textContent = reply.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join("; ");
            }
          }),
    ),
  );
  show(
    back,
    h("h2", { id: "case-number" }, found.caseNumber),
    h("p", {}, `${found.cause} · ${found.courtCode} ${found.division} · ${found.status} · filed ${found.filedOn}`),
    found.stale &&
      h(
        "p",
        { class: "case-stale" },
        `Its court is not answering: this is its last known record, ${found.stale.ageSeconds} s old (as of ${found.stale.asOf}).`,
      ),
    h("h3", {}, "Served documents"),
    documents === null
      ? h("p", {}, "The court cannot list its documents right now.")
      : items.length
        ? h("ul", { id: "documents" }, ...items)
        : h("p", {}, "No documents served to you in this case."),
    status,
    button("Refresh", { id: "refresh-case" }, () => void caseView(caseNumber)),
  );
}

// -- live notifications -------------------------------------------------------------------------------------

function startLive(): void {
  if (!token || stopLive) return;
  const state = byId("live-state");
  stopLive = followNotifications(
    token,
    (notice: Notice) => {
      const item = h(
        "li",
        { class: "notice", "data-id": notice.id },
        h("strong", {}, notice.title),
        " ",
        notice.body,
        notice.caseNumber ? h("a", { href: `#/case/${encodeURIComponent(notice.caseNumber)}` }, " open case") : null,
      );
      byId("notifications-list").prepend(item);
    },
    (s) => {
      state.textContent = s;
      state.dataset.state = s;
    },
  );
}

// -- routing ------------------------------------------------------------------------------------------------

async function route(): Promise<void> {
  byId("signout").hidden = !token;
  if (!token) return signInView();
  const hash = location.hash || "#/cases";
  if (hash.startsWith("#/case/")) return caseView(decodeURIComponent(hash.slice("#/case/".length)));
  pageStarts = [null];
  return casesView(0);
}

window.addEventListener("hashchange", () => void route());
byId("signout").addEventListener("click", signOut);
void route(); // live notifications start once an answer has shown the token is good (startLive)
