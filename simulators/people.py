"""Real-format identities: names, resident ID numbers, credit codes, licence numbers, phones.

Everything takes a ``random.Random`` so the whole world is reproducible from one seed.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严赖覃洪武莫孔"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文辉鹏宇浩俊峰婷雪琳晓燕欣怡子涵梓轩嘉豪思远家乐锦荣伟权少华永康振宇佩珊颖诗咏嘉慧"
DISTRICTS = (
    "440103",
    "440104",
    "440105",
    "440106",
    "440111",
    "440112",
    "440113",
    "440114",
    "440115",
    "440117",
    "440118",
    "440181",
    "440183",
    "440184",
)
ORG_WORDS = (
    "恒信",
    "粤海",
    "穗通",
    "南方",
    "华瑞",
    "天润",
    "珠江",
    "岭南",
    "白云",
    "越秀",
    "广发",
    "中联",
    "宏达",
    "金穗",
    "羊城",
    "新世纪",
    "荔湾",
    "保利",
    "汇丰",
    "德信",
)
ORG_KINDS = (
    "贸易有限公司",
    "科技有限公司",
    "物业管理有限公司",
    "建筑工程有限公司",
    "小额贷款有限公司",
    "房地产开发有限公司",
    "餐饮管理有限公司",
    "电子商务有限公司",
    "汽车租赁有限公司",
    "网络科技有限公司",
)
FIRMS = (
    "广东穗正律师事务所",
    "广东南粤明德律师事务所",
    "广东羊城法信律师事务所",
    "广东珠江衡平律师事务所",
    "广东越华律师事务所",
    "广东天河正言律师事务所",
    "广东岭南公诚律师事务所",
    "广东白云山律师事务所",
    "广东海珠明理律师事务所",
    "广东番禺信达律师事务所",
    "广东花城律师事务所",
    "广东南沙港律师事务所",
)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "186",
    "187",
    "188",
    "189",
    "176",
    "177",
    "199",
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character of a resident ID number."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_valid_id_number(number: str) -> bool:
    return len(number) == 18 and number[:17].isdigit() and id_check_digit(number[:17]) == number[17]


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character of a unified social credit code."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    return len(code) == 18 and all(c in _USCC_CHARS for c in code) and uscc_check_char(code[:17]) == code[17]


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def id_number(rng: random.Random, serial: int) -> str:
    """A valid 18-digit ID for a Guangzhou resident born 1950–2002; ``serial`` keeps it unique."""
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(52 * 365))
    # the 3-digit order code carries the serial's low digits, the district spreads the rest
    district = DISTRICTS[(serial // 1000) % len(DISTRICTS)]
    first17 = f"{district}{born:%Y%m%d}{serial % 1000:03d}"
    return first17 + id_check_digit(first17)


def credit_code(rng: random.Random, serial: int) -> str:
    """A valid unified social credit code of a Guangzhou enterprise (91 4401xx …)."""
    district = rng.choice(DISTRICTS)
    body = "".join(rng.choice(_USCC_CHARS) for _ in range(4)) + f"{serial:05d}"[-5:]
    first17 = f"91{district}{body}"[:17]
    return first17 + uscc_check_char(first17)


def organisation_name(rng: random.Random) -> str:
    return f"广州市{rng.choice(ORG_WORDS)}{rng.choice(ORG_KINDS)}"


def licence_number(rng: random.Random, serial: int) -> str:
    """A 17-digit lawyer's licence (执业证号): type 1, region 4401, year first licensed, category 1,
    gender, and a 6-digit serial."""
    return f"14401{rng.randrange(1998, 2024)}1{rng.randrange(2)}{serial % 10**6:06d}"


def phone(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
