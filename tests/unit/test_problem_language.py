"""Which callers get Chinese problems, and that every problem code has its Chinese words."""

import re

import pytest

from market.errors import problem_messages, wants_chinese
from market.settings import PROJECT_ROOT


@pytest.mark.parametrize(("accept_language", "chinese"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", True),
    ("zh", True),
    ("zh-TW", True),
    ("en;q=0.5, zh;q=0.9", True),
    ("en-US,en;q=0.9,zh;q=0.8", False),
    ("en", False),
    ("", False),
    ("*", False),
    ("zh;q=0", False),
    ("zh;q=abc, en", False),
])
def test_the_most_preferred_language_decides(accept_language, chinese):
    assert wants_chinese(accept_language) is chinese


def test_every_code_the_services_raise_has_a_chinese_detail():
    raised = set()
    for file in [*(PROJECT_ROOT / "services").rglob("*.py"), *(PROJECT_ROOT / "market").rglob("*.py")]:
        raised |= set(re.findall(r'code="([a-z_]+\.[a-z_.]+|[a-z_]+)"', file.read_text(encoding="utf-8")))
    raised -= {"task_timeout"}  # Meilisearch's own, never a problem code
    missing = raised - set(problem_messages()["details"])
    assert not missing, f"add to seed/i18n/problems.zh.yaml: {sorted(missing)}"
