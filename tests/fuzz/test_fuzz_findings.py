"""What the fuzzer found inside the resolvers and services, each pinned by the request that found it."""

from __future__ import annotations

import pytest

from tests.conftest import GraphQLClient

SUBMIT = """mutation { submitFiling(caseNumber: "（2023）粤0104民初1号", kind: DEFENCE_STATEMENT, title: "答辩状",
  files: ["j", "x"], idempotencyKey: "fuzz-1") { id } }"""
APPLY = """mutation { applyForCaseBinding(caseNumber: "（2023）粤0104民初1号", powerOfAttorney: ["x"]) { id } }"""
ARCHIVE = """mutation { applyForArchiveAccess(caseNumber: "（2023）粤0104民初1号", reason: "阅卷",
  attachments: [""]) { id } }"""
SEAL = """mutation { verifyDocumentSeal(file: "%PDF-1.4") { __typename } }"""


@pytest.mark.parametrize(
    ("document", "login"),
    [(SUBMIT, "lawyer-chen"), (APPLY, "lawyer-li"), (ARCHIVE, "lawyer-chen"), (SEAL, "party-wang")],
    ids=["submitFiling", "applyForCaseBinding", "applyForArchiveAccess", "verifyDocumentSeal"],
)
async def test_an_upload_given_inline_is_a_typed_refusal_not_an_internal_error(
    gateway: GraphQLClient, document: str, login: str
) -> None:
    """An ``Upload`` argument written into the document (a string, not a multipart part) used to reach
    ``.read()`` on a str: INTERNAL_SERVER_ERROR."""
    body = await gateway.query(document, as_=login)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "reason": "NOT_A_FILE"}, error
    assert "multipart" in error["message"]
