var ke=Object.defineProperty;var Me=(e,t,n)=>t in e?ke(e,t,{enumerable:!0,configurable:!0,writable:!0,value:n}):e[t]=n;var D=(e,t,n)=>Me(e,typeof t!="symbol"?t+"":t,n);var Q=class extends Error{};async function H(e,t,n){let o={"Content-Type":"application/json",Accept:"application/graphql-response+json, application/json"};n&&(o.Authorization=`Bearer ${n}`);let c;try{c=await fetch("/graphql",{method:"POST",headers:o,body:JSON.stringify({documentId:`sha256:${e.id}`,operationName:e.name,variables:t})})}catch(i){throw new Q(`the gateway cannot be reached: ${String(i)}`)}let u;try{u=await c.json()}catch{throw new Q(`the gateway answered HTTP ${c.status} without a GraphQL body`)}return{data:u.data??null,errors:u.errors??[]}}function ee(e,t){let n=new Map;for(let o of e)n.set(o.court.code,o);for(let o of t){if(o.extensions?.stale)continue;let c=o.extensions?.court;c&&!n.has(c)&&n.set(c,{court:{code:c,name:c},code:o.extensions?.code??"COURT_ERROR",retryAfter:o.extensions?.retryAfter??null})}return[...n.values()]}function te(e){return e.filter(t=>!t.extensions?.court)}function S(e){return e===null?"null":Array.isArray(e)?"array":typeof e}function O(e){return S(e)==="object"}function De(e){return Array.isArray(e)&&e.length>0&&e.every(t=>"message"in t)}function ne(e,t){return e.length<124?e:t}var me="graphql-transport-ws";var E=(e=>(e[e.InternalServerError=4500]="InternalServerError",e[e.InternalClientError=4005]="InternalClientError",e[e.BadRequest=4400]="BadRequest",e[e.BadResponse=4004]="BadResponse",e[e.Unauthorized=4401]="Unauthorized",e[e.Forbidden=4403]="Forbidden",e[e.SubprotocolNotAcceptable=4406]="SubprotocolNotAcceptable",e[e.ConnectionInitialisationTimeout=4408]="ConnectionInitialisationTimeout",e[e.ConnectionAcknowledgementTimeout=4504]="ConnectionAcknowledgementTimeout",e[e.SubscriberAlreadyExists=4409]="SubscriberAlreadyExists",e[e.TooManyInitialisationRequests=4429]="TooManyInitialisationRequests",e))(E||{}),C=(e=>(e.ConnectionInit="connection_init",e.ConnectionAck="connection_ack",e.Ping="ping",e.Pong="pong",e.Subscribe="subscribe",e.Next="next",e.Error="error",e.Complete="complete",e))(C||{});function ye(e){if(!O(e))throw new Error(`Message is expected to be an object, but got ${S(e)}`);if(!e.type)throw new Error("Message is missing the 'type' property");if(typeof e.type!="string")throw new Error(`Message is expects the 'type' property to be a string, but got ${S(e.type)}`);switch(e.type){case"connection_init":case"connection_ack":case"ping":case"pong":{if(e.payload!=null&&!O(e.payload))throw new Error(`"${e.type}" message expects the 'payload' property to be an object or nullish or missing, but got "${e.payload}"`);break}case"subscribe":{if(typeof e.id!="string")throw new Error(`"${e.type}" message expects the 'id' property to be a string, but got ${S(e.id)}`);if(!e.id)throw new Error(`"${e.type}" message requires a non-empty 'id' property`);if(!O(e.payload))throw new Error(`"${e.type}" message expects the 'payload' property to be an object, but got ${S(e.payload)}`);if(typeof e.payload.query!="string")throw new Error(`"${e.type}" message payload expects the 'query' property to be a string, but got ${S(e.payload.query)}`);if(e.payload.variables!=null&&!O(e.payload.variables))throw new Error(`"${e.type}" message payload expects the 'variables' property to be a an object or nullish or missing, but got ${S(e.payload.variables)}`);if(e.payload.operationName!=null&&S(e.payload.operationName)!=="string")throw new Error(`"${e.type}" message payload expects the 'operationName' property to be a string or nullish or missing, but got ${S(e.payload.operationName)}`);if(e.payload.extensions!=null&&!O(e.payload.extensions))throw new Error(`"${e.type}" message payload expects the 'extensions' property to be a an object or nullish or missing, but got ${S(e.payload.extensions)}`);break}case"next":{if(typeof e.id!="string")throw new Error(`"${e.type}" message expects the 'id' property to be a string, but got ${S(e.id)}`);if(!e.id)throw new Error(`"${e.type}" message requires a non-empty 'id' property`);if(!O(e.payload))throw new Error(`"${e.type}" message expects the 'payload' property to be an object, but got ${S(e.payload)}`);break}case"error":{if(typeof e.id!="string")throw new Error(`"${e.type}" message expects the 'id' property to be a string, but got ${S(e.id)}`);if(!e.id)throw new Error(`"${e.type}" message requires a non-empty 'id' property`);if(!De(e.payload))throw new Error(`"${e.type}" message expects the 'payload' property to be an array of GraphQL errors, but got ${JSON.stringify(e.payload)}`);break}case"complete":{if(typeof e.id!="string")throw new Error(`"${e.type}" message expects the 'id' property to be a string, but got ${S(e.id)}`);if(!e.id)throw new Error(`"${e.type}" message requires a non-empty 'id' property`);break}default:throw new Error(`Invalid message 'type' property "${e.type}"`)}return e}function he(e,t){return ye(typeof e=="string"?JSON.parse(e,t):e)}function v(e,t){return ye(e),JSON.stringify(e,t)}function oe(e){let{url:t,connectionParams:n,lazy:o=!0,onNonLazyError:c=console.error,lazyCloseTimeout:u=0,keepAlive:i=0,disablePong:m,connectionAckWaitTimeout:y=0,retryAttempts:_=5,retryWait:Ae=async function(p){let s=Math.pow(2,p);await new Promise(l=>setTimeout(l,s*1e3+Math.floor(Math.random()*2700+300)))},shouldRetry:Oe=re,on:b,webSocketImpl:K,generateID:Ie=function(){return"xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g,p=>{let s=Math.random()*16|0;return(p=="x"?s:s&3|8).toString(16)})},jsonMessageReplacer:j,jsonMessageReviver:Re}=e,P;if(K){if(!Le(K))throw new Error("Invalid WebSocket implementation provided");P=K}else typeof WebSocket<"u"?P=WebSocket:typeof global<"u"?P=global.WebSocket||global.MozWebSocket:typeof window<"u"&&(P=window.WebSocket||window.MozWebSocket);if(!P)throw new Error("WebSocket implementation missing; on Node you can `import WebSocket from 'ws';` and pass `webSocketImpl: WebSocket` to `createClient`");let I=P,w=(()=>{let a=(()=>{let s={};return{on(l,f){return s[l]=f,()=>{delete s[l]}},emit(l){"id"in l&&s[l.id]?.(l)}}})(),p={connecting:b?.connecting?[b.connecting]:[],opened:b?.opened?[b.opened]:[],connected:b?.connected?[b.connected]:[],ping:b?.ping?[b.ping]:[],pong:b?.pong?[b.pong]:[],message:b?.message?[a.emit,b.message]:[a.emit],closed:b?.closed?[b.closed]:[],error:b?.error?[b.error]:[]};return{onMessage:a.on,on(s,l){let f=p[s];return f.push(l),()=>{let g=f.indexOf(l);g>-1&&f.splice(g,1)}},emit(s,...l){for(let f of[...p[s]])f(...l)}}})();function Z(a){let p=[w.on("error",s=>{p.forEach(l=>l()),a(s)}),w.on("closed",s=>{p.forEach(l=>l()),a(s)})];return()=>p.forEach(s=>s())}let R,A=0,X,q=!1,W=0,ue=!1;async function le(){clearTimeout(X);let[a,p]=await(R??(R=new Promise((f,g)=>(async()=>{if(q){if(await Ae(W),!A)return R=void 0,g({code:1e3,reason:"All Subscriptions Gone"});W++}w.emit("connecting",q);let d=new I(typeof t=="function"?await t():t,me),T,k;function U(){isFinite(i)&&i>0&&(clearTimeout(k),k=setTimeout(()=>{d.readyState===I.OPEN&&(d.send(v({type:C.Ping})),w.emit("ping",!1,void 0))},i))}Z(x=>{R=void 0,clearTimeout(T),clearTimeout(k),g(x),x instanceof G&&(d.close(4499,"Terminated"),d.onerror=null,d.onclose=null)}),d.onerror=x=>w.emit("error",x),d.onclose=x=>w.emit("closed",x),d.onopen=async()=>{try{w.emit("opened",d);let x=typeof n=="function"?await n():n;if(d.readyState!==I.OPEN)return;d.send(v(x?{type:C.ConnectionInit,payload:x}:{type:C.ConnectionInit},j)),isFinite(y)&&y>0&&(T=setTimeout(()=>{d.close(E.ConnectionAcknowledgementTimeout,"Connection acknowledgement timeout")},y)),U()}catch(x){w.emit("error",x),d.close(E.InternalClientError,ne(x instanceof Error?x.message:String(x),"Internal client error"))}};let M=!1;d.onmessage=({data:x})=>{try{let h=he(x,Re);if(w.emit("message",h),h.type==="ping"||h.type==="pong"){w.emit(h.type,!0,h.payload),h.type==="pong"?U():m||(d.send(v(h.payload?{type:C.Pong,payload:h.payload}:{type:C.Pong},j)),w.emit("pong",!1,h.payload));return}if(M)return;if(h.type!==C.ConnectionAck)throw new Error(`First message cannot be of type ${h.type}`);clearTimeout(T),M=!0,w.emit("connected",d,h.payload,q),q=!1,W=0;let ge=new Promise((Ge,Pe)=>Z(Pe));ge.catch(()=>{}),f([d,ge])}catch(h){d.onmessage=null,w.emit("error",h),d.close(E.BadResponse,ne(h instanceof Error?h.message:String(h),"Bad response"))}}})())));a.readyState===I.CLOSING&&await p;let s=()=>{},l=new Promise(f=>s=f);return[a,s,new Promise((f,g)=>{let d=Z(g);a.readyState!==I.OPEN&&p.catch(g),l.then(()=>{if(d(),!A){let T=()=>a.close(1e3,"Normal Closure");isFinite(u)&&u>0?(clearTimeout(X),X=setTimeout(()=>{!A&&a.readyState===I.OPEN&&T()},u)):T()}f()})})]}function pe(a){if(re(a)&&(ve(a.code)||[E.InternalServerError,E.InternalClientError,E.BadRequest,E.BadResponse,E.Unauthorized,E.SubprotocolNotAcceptable,E.SubscriberAlreadyExists,E.TooManyInitialisationRequests].includes(a.code)))throw a;if(ue)return!1;if(re(a)&&a.code===1e3)return A>0;if(!_||W>=_||!Oe(a))throw a;return q=!0}o||(async()=>{for(A++;;)try{let[,,a]=await le();await a}catch(a){try{if(!pe(a))return}catch(p){return c?.(p)}}})();function fe(a,p){let s=Ie(a),l=!1,f=!1,g=()=>{A--,l=!0};return(async()=>{for(A++;;)try{let[d,T,k]=await le();if(l)return k.catch(()=>{}),T();let U=w.onMessage(s,M=>{switch(M.type){case C.Next:{p.next(M.payload);return}case C.Error:{f=!0,l=!0,p.error(M.payload),g();return}case C.Complete:{l=!0,g();return}}});d.send(v({id:s,type:C.Subscribe,payload:a},j)),g=()=>{!l&&d.readyState===I.OPEN&&d.send(v({id:s,type:C.Complete},j)),A--,l=!0,T()},await k.finally(U);return}catch(d){if(!pe(d))return}})().then(()=>{f||p.complete()}).catch(d=>{p.error(d)}),()=>{l||g()}}return{on:w.on,subscribe:fe,iterate(a){let p=[],s={done:!1,error:null,resolve:()=>{}},l=fe(a,{next(g){p.push(g),s.resolve()},error(g){s.done=!0,s.error=g,s.resolve()},complete(){s.done=!0,s.resolve()}}),f=(async function*(){for(;;){for(p.length||await new Promise(d=>s.resolve=d);p.length;)yield p.shift();if(s.error)throw s.error;if(s.done)return}})();return f.throw=async g=>(s.done||(s.done=!0,s.error=g,s.resolve()),{done:!0,value:void 0}),f.return=async()=>(l(),{done:!0,value:void 0}),f},async dispose(){if(ue=!0,R){let[a]=await R;a.close(1e3,"Normal Closure")}},terminate(){R&&w.emit("closed",new G)}}}var G=class extends Error{constructor(){super(...arguments);D(this,"name","TerminatedCloseEvent");D(this,"message","4499: Terminated");D(this,"code",4499);D(this,"reason","Terminated");D(this,"wasClean",!1)}};function re(e){return O(e)&&"code"in e&&"reason"in e}function ve(e){return[1e3,1001,1006,1005,1012,1013,1014].includes(e)?!1:e>=1e3&&e<=1999}function Le(e){return typeof e=="function"&&"constructor"in e&&"CLOSED"in e&&"CLOSING"in e&&"CONNECTING"in e&&"OPEN"in e}var be={"0962dc7414fed8208cb28ebe5a036f2b6b066e478c18dd800f07884632e1c3a5":`mutation SignDocument($documentId: ID!) {
  signDocument(documentId: $documentId) {
    id
    documentId
    sourceCode
    status
    signedAt
  }
}`,"12eaa7684dc01d697ee8da372d551ddfe213b5fc4f9eaaee428e8319cf43623d":`query MyCases($first: Int!, $after: String) {
  myCases(first: $first, after: $after) {
    totalCount
    edges {
      cursor
      node {
        id
        caseNumber
        courtCode
        cause
        status
        filedOn
        myRoles
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
    unavailableCourts {
      court {
        code
        name
      }
      code
      retryAfter
    }
    staleCourts {
      court {
        code
        name
        shortName
      }
      asOf
      ageSeconds
    }
  }
}`,"21be4ace0f44628697c36caa48e9760dd3ed47b6f03aa7e456f42ad957c97f58":`query Case($caseNumber: String!) {
  case(caseNumber: $caseNumber) {
    id
    caseNumber
    courtCode
    cause
    status
    filedOn
    division
    parties {
      name
      role
    }
    hearings {
      startsAt
      room
      kind
    }
    servedDocuments {
      id
      title
      docType
      signed
      firstServedAt
      signature {
        status
        signedAt
      }
    }
    stale {
      asOf
      ageSeconds
    }
  }
}`,"295bcc77e799c11284a3c1eed84c93275e7f13b737e73693344846417d67daed":`mutation MarkNotificationsRead($ids: [ID!]) {
  markNotificationsRead(ids: $ids)
}`,"5ce0ce17f331aa8a03c8cdb585541f457f26e38341f7b66a0a6fc30300095b7e":`query Notifications($first: Int!, $unreadOnly: Boolean!) {
  notifications(first: $first, unreadOnly: $unreadOnly) {
    edges {
      node {
        id
        kind
        title
        body
        caseNumber
        createdAt
        readAt
      }
    }
  }
}`,"6628159810195820f485dddf26096020c0aa0172a873d2199c3a6f299771248c":`query Viewer {
  viewer {
    name
    roles
    identityLevel
    courtCode
  }
}`,cb667841272d36aa1336f4aa530d18ff3519895df126e3bfb5792134eeb16f1a:`subscription NotificationAdded {
  notificationAdded {
    id
    kind
    title
    body
    caseNumber
    createdAt
  }
}`,d3560a1019f6ba3793671b8b03fc8b5356fa10d76d48d395e5787d5d32ea34d9:`query DocumentsToSign($first: Int!, $after: String) {
  documentsToSign(first: $first, after: $after) {
    totalCount
    edges {
      cursor
      node {
        id
        title
        docType
        caseNumber
        courtCode
        firstServedAt
        signed
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
    unavailableCourts {
      court {
        code
        name
      }
      code
      retryAfter
    }
  }
}`};function z(e){let t=new RegExp(`^(query|mutation|subscription) ${e}\\b`),n=Object.entries(be).find(([,o])=>t.test(o));if(!n)throw new Error(`operation ${e} is not in clients/manifests/demo.json: rebuild the manifest`);return{name:e,id:n[0],text:n[1]}}var we=z("MyCases"),xe=z("Case"),Se=z("SignDocument"),se=z("NotificationAdded");function Ee(e,t,n){let o=`${location.protocol==="https:"?"wss":"ws"}://${location.host}/graphql`,c=oe({url:o,connectionParams:{Authorization:`Bearer ${e}`},retryAttempts:1/0,shouldRetry:i=>i instanceof CloseEvent&&i.code!==4403,on:{connected:()=>n("live"),closed:()=>n("reconnecting")}}),u=c.subscribe({query:se.text,documentId:`sha256:${se.id}`},{next:i=>{let m=i.data?.notificationAdded;m&&t(m)},error:()=>n("error"),complete:()=>n("closed")});return()=>{u(),c.dispose()}}var Ce=5,ae="court-gateway.token",ce="court-gateway.name";function r(e,t={},...n){let o=document.createElement(e);for(let[c,u]of Object.entries(t))o.setAttribute(c,u);for(let c of n)c&&o.append(c);return o}function $(e){let t=document.getElementById(e);if(!t)throw new Error(`the page has no #${e}`);return t}function L(e,t,n){let o=r("button",{type:"button",...t},e);return o.addEventListener("click",n),o}var N=sessionStorage.getItem(ae),V=null,F=[null];function B(...e){$("main").replaceChildren(...e.filter(t=>!!t))}function de(e,t=[],n=[]){let o=e.map(i=>r("p",{class:"court-unavailable","data-court":i.court.code},`${i.court.name} (${i.court.code}) unavailable: ${i.code}. Its items are missing from this page`,i.retryAfter!==null?`; try again in ${i.retryAfter} s.`:"; try again later.")),c=n.map(i=>r("p",{class:"court-stale","data-court":i.court.code},`${i.court.name} (${i.court.code}) unavailable: its items are shown from its last known answer, `,`${i.ageSeconds} s old (as of ${i.asOf}).`)),u=t.map(i=>r("p",{class:"request-error","data-code":i.extensions?.code??""},`${i.extensions?.code??"ERROR"}: ${i.message}`));$("banner").replaceChildren(...o,...c,...u),$("banner").hidden=o.length+c.length+u.length===0}async function qe(){$("who").textContent="",de([]);let t=(await fetch("/demo/login").then(u=>u.ok?u.json():{logins:[]})).logins??[],n=r("select",{id:"login"},...t.map(u=>r("option",{value:u},u))),o=r("p",{id:"signin-status"}),c=L("Sign in",{id:"signin"},async()=>{let u=await fetch("/demo/login",{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({login:n.value})}),i=await u.json();if(!u.ok||!i.token){o.textContent=i.errors?.[0]?.message??`sign-in refused (HTTP ${u.status})`;return}N=i.token,sessionStorage.setItem(ae,N),sessionStorage.setItem(ce,String(i.name??"")),location.hash="#/cases",Y()});B(r("h2",{},"Sign in"),r("p",{},"The demo identity provider signs you in as one of the demo's people."),r("label",{for:"login"},"Demo login "),n," ",c,o)}function $e(){N=null,sessionStorage.removeItem(ae),sessionStorage.removeItem(ce),V?.(),V=null,$("live-state").textContent="off",$("live-state").dataset.state="off",$("notifications-list").replaceChildren(),location.hash="#/",Y()}function Ne(e){return e.some(t=>t.extensions?.code==="UNAUTHENTICATED")?($e(),!0):!1}async function J(e){let t=F[e]??null,n=await H(we,{first:Ce,after:t},N);if(Ne(n.errors))return;let o=n.data?.myCases;if(de(ee(o?.unavailableCourts??[],n.errors),te(n.errors),o?.staleCourts),!o){B(r("h2",{},"My cases"),r("p",{},"No cases could be listed."));return}Te(),$("who").textContent=sessionStorage.getItem(ce)??"";let c=o.totalCount,u=c===null?null:Math.max(1,Math.ceil(c/Ce)),i=o.edges.map(({node:y})=>r("tr",{class:"case-row","data-court":y.courtCode},r("td",{},r("a",{href:`#/case/${encodeURIComponent(y.caseNumber)}`,class:"case-link"},y.caseNumber)),r("td",{},y.courtCode),r("td",{},y.cause),r("td",{},y.status),r("td",{},y.filedOn))),m=o.pageInfo.hasNextPage&&o.pageInfo.endCursor;B(r("h2",{},"My cases"),r("p",{id:"page-status"},`Page ${e+1}${u===null?"":` of ${u}`}`,c===null?" (the total is unknown while a court is missing)":` \xB7 ${c} cases`),r("table",{id:"cases"},r("thead",{},r("tr",{},...["Case number","Court","Cause","Status","Filed"].map(y=>r("th",{},y)))),r("tbody",{},...i)),r("nav",{class:"pager"},e>0&&L("Previous page",{id:"prev-page"},()=>{J(e-1)}),m&&L("Next page",{id:"next-page"},()=>{F=[...F.slice(0,e+1),o.pageInfo.endCursor],J(e+1)}),L("Refresh",{id:"refresh"},()=>{J(e)})))}async function ie(e){let t=await H(xe,{caseNumber:e},N);if(Ne(t.errors))return;de(ee([],t.errors),te(t.errors));let n=t.data?.case;t.data&&Te();let o=r("a",{href:"#/cases",id:"back"},"\u2190 My cases");if(!n){B(o,r("h2",{},e),r("p",{},"This case cannot be shown now."));return}let c=n.servedDocuments,u=r("p",{id:"sign-status"}),i=(c??[]).map(m=>r("li",{class:"document","data-id":m.id},r("span",{class:"title"},m.title),` \xB7 ${m.docType} \xB7 served ${m.firstServedAt} \xB7 `,m.signed||m.signature?r("span",{class:"signed"},`signed${m.signature?` (${m.signature.status})`:""}`):L("Sign",{class:"sign"},async()=>{let y=await H(Se,{documentId:m.id},N);y.data?.signDocument?(await ie(e),$("sign-status").textContent=`Signed: ${m.title} (${y.data.signDocument.status})`):u.textContent=y.errors.map(_=>`${_.extensions?.code}: ${_.message}`).join("; ")})));B(o,r("h2",{id:"case-number"},n.caseNumber),r("p",{},`${n.cause} \xB7 ${n.courtCode} ${n.division} \xB7 ${n.status} \xB7 filed ${n.filedOn}`),n.stale&&r("p",{class:"case-stale"},`Its court is not answering: this is its last known record, ${n.stale.ageSeconds} s old (as of ${n.stale.asOf}).`),r("h3",{},"Served documents"),c===null?r("p",{},"The court cannot list its documents right now."):i.length?r("ul",{id:"documents"},...i):r("p",{},"No documents served to you in this case."),u,L("Refresh",{id:"refresh-case"},()=>{ie(e)}))}function Te(){if(!N||V)return;let e=$("live-state");V=Ee(N,t=>{let n=r("li",{class:"notice","data-id":t.id},r("strong",{},t.title)," ",t.body,t.caseNumber?r("a",{href:`#/case/${encodeURIComponent(t.caseNumber)}`}," open case"):null);$("notifications-list").prepend(n)},t=>{e.textContent=t,e.dataset.state=t})}async function Y(){if($("signout").hidden=!N,!N)return qe();let e=location.hash||"#/cases";return e.startsWith("#/case/")?ie(decodeURIComponent(e.slice(7))):(F=[null],J(0))}window.addEventListener("hashchange",()=>{Y()});$("signout").addEventListener("click",$e);Y();
//# sourceMappingURL=app.js.map
