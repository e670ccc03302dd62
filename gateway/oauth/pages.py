"""The sign-in and consent pages: plain server-rendered HTML, no script, no external assets.

Every value shown is escaped; the pages may not be framed (clickjacking) nor cached.
"""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

#: what each scope lets software do, as the consent page says it (Chinese first: the courts' users)
SCOPE_TEXT = {
    "cases:read": "查看您的案件 · read your cases across the courts",
    "documents:read": "查看向您送达的文书 · read the documents served on you (never sign them)",
    "filings:write": "以您的名义提交材料并跟踪 · submit filings in your name and follow them",
    "tickets:write": "提交并查看12368工单 · raise and follow 12368 tickets",
    "calendar:read": "读取开庭与期限日历 · read your hearings and deadlines calendar",
    "webhooks:manage": "管理事件通知 · manage event notifications (webhooks) for your cases",
    "archive:read": "阅卷并申请阅卷 · read case files you may read, and apply to read them",
    "bindings:write": "申请案件绑定 · apply to be linked to a case, and follow the applications",
    "notifications:read": "查看站内通知 · read your notifications",
}
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
STYLE = "body{font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em}li{margin:.3em 0}.e{color:#a00}"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _scopes(scope: str) -> str:
    items = "".join(f"<li><code>{escape(s)}</code> {escape(SCOPE_TEXT.get(s, s))}</li>" for s in scope.split())
    return f"<ul>{items}</ul>"


def sign_in(action: str, client_name: str, scope: str, *, error: str | None = None, demo: bool = False) -> HTMLResponse:
    hint = "<p>Demo: mint one with <code>.venv/bin/court-gateway token lawyer-chen</code>.</p>" if demo else ""
    problem = f'<p class="e">{escape(error)}</p>' if error else ""
    return _page(
        "登录 · Sign in",
        f"<p><b>{escape(client_name)}</b> asks to act for you at the courts:</p>{_scopes(scope)}{problem}"
        f'<form method="post" action="{escape(action)}"><input type="hidden" name="step" value="sign-in">'
        "<p><label>Your court sign-in token (诉讼服务平台登录凭证)<br>"
        '<textarea name="id_token" rows="4" cols="60" required></textarea></label></p>'
        f'{hint}<p><button type="submit">Sign in</button></p></form>',
        status=401 if error else 200,
    )


#: the consent form's field naming each scope the person keeps (a ticked checkbox), and the marker saying the
#: form offered the choice: without the marker (a scripted consent) every requested scope is kept
KEEP_FIELD = "keep"
CHOICE_FIELD = "choose"


def _choices(scope: str) -> str:
    """One checkbox per requested scope, all ticked: the person unticks what they do not grant."""
    items = "".join(
        f'<li><label><input type="checkbox" name="{KEEP_FIELD}" value="{escape(s)}" checked> '
        f"<code>{escape(s)}</code> {escape(SCOPE_TEXT.get(s, s))}</label></li>"
        for s in scope.split()
    )
    return f'<ul>{items}</ul><input type="hidden" name="{CHOICE_FIELD}" value="1">'


def consent(action: str, client_name: str, scope: str, person: str, ticket: str, csrf: str) -> HTMLResponse:
    return _page(
        "授权 · Authorise",
        f"<p>{escape(person)}, do you allow <b>{escape(client_name)}</b> to (untick what you do not allow · "
        "取消勾选您不同意的权限):</p>"
        f'<form method="post" action="{escape(action)}"><input type="hidden" name="step" value="consent">'
        f"{_choices(scope)}"
        f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        "<p>Signing served documents stays yours alone: no software may sign for you (在线诉讼规则 第七条). "
        "You can withdraw this at any time in your account (authorizedApps).</p>"
        '<button type="submit" name="decision" value="allow">Allow</button> '
        '<button type="submit" name="decision" value="deny">Deny</button></form>',
    )


def failure(message: str, status: int = 400) -> HTMLResponse:
    return _page("无法授权 · Cannot authorise", f'<p class="e">{escape(message)}</p>', status=status)
