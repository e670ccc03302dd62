// court-gateway's GraphiQL page: GraphiQL (vendored) talking to the gateway at this page's own path,
// with a pasted token sent as `Authorization: Bearer …` on HTTP and in the WebSocket's connection_init
// payload (connectionParams), which is where the gateway reads it for subscriptions.
"use strict";

(function () {
  const STORAGE_KEY = "court-gateway.token"; // sessionStorage: the token leaves with the tab
  const url = window.location.origin + window.location.pathname;
  const subscriptionUrl = url.replace(/^http/, "ws");
  const tokenInput = document.getElementById("token");
  const tokenState = document.getElementById("token-state");

  function bareToken() {
    return tokenInput.value.trim().replace(/^bearer\s+/i, "");
  }

  function showTokenState() {
    const token = bareToken();
    if (token) sessionStorage.setItem(STORAGE_KEY, token);
    else sessionStorage.removeItem(STORAGE_KEY);
    tokenState.textContent = token ? "token set" : "anonymous";
  }

  tokenInput.value = sessionStorage.getItem(STORAGE_KEY) || "";
  tokenInput.addEventListener("input", showTokenState);
  document.getElementById("token-bar").addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("forget-token").addEventListener("click", () => {
    tokenInput.value = "";
    showTokenState();
  });
  showTokenState();

  // GraphiQL's fetcher opens a WebSocket per subscription with the request's headers as connectionParams,
  // so the token added here reaches both transports. An Authorization typed into the headers editor wins.
  const graphiqlFetcher = GraphiQL.createFetcher({ url, subscriptionUrl });

  function fetcher(params, options) {
    const headers = Object.assign({}, options && options.headers);
    const hasAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === "authorization");
    const token = bareToken();
    if (token && !hasAuthorization) headers.Authorization = "Bearer " + token;
    return graphiqlFetcher(params, Object.assign({}, options, { headers }));
  }

  const EXAMPLE = `# court-gateway. Paste a token above, then run (Ctrl-Enter):
query MyCases {
  viewer { name roles }
  myCases(first: 5) {
    totalCount
    edges { node { caseNumber courtCode cause status } }
    pageInfo { hasNextPage endCursor }
  }
}
`;

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: EXAMPLE,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      inputValueDeprecation: true,
    }),
  );
})();
