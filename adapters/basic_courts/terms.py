"""The legal vocabulary the basic courts' systems share: 诉讼地位 and the roles of court staff.

These are the statutory terms, not a protocol's encoding, so every basic-court family reads them the
same way; each family keeps its own codes for everything else (statuses, channels, kinds).
"""

from __future__ import annotations

from gateway.adapters.model import PartyRole, StaffRole

#: 诉讼地位 → canonical party role
PARTY_ROLES = {
    "原告": PartyRole.PLAINTIFF,
    "被告": PartyRole.DEFENDANT,
    "第三人": PartyRole.THIRD_PARTY,
    "上诉人": PartyRole.APPELLANT,
    "被上诉人": PartyRole.APPELLEE,
    "申请人": PartyRole.APPLICANT,
    "被申请人": PartyRole.RESPONDENT,
    "被告人": PartyRole.ACCUSED,
    "公诉机关": PartyRole.PROSECUTOR,
}

#: 审判组织 and court roles → canonical staff role: the words of a case's panel and of the staff roster (人员名册)
STAFF_ROLES = {
    "审判长": StaffRole.PRESIDING_JUDGE,
    "审判员": StaffRole.JUDGE,
    "人民陪审员": StaffRole.PEOPLES_ASSESSOR,
    "书记员": StaffRole.CLERK,
    "庭长": StaffRole.DIVISION_HEAD,
    "院领导": StaffRole.COURT_LEADER,
    "档案管理员": StaffRole.ARCHIVE_ADMIN,
}
