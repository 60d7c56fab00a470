"""Registration numbers (16- and 14-digit forms) and the form's area codes, checked against the data."""

from datetime import date

import pytest

from services.errors import Invalid
from services.registration import check_number, places

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(("number", "registered_on"), [
    ("2026510107000123", date(2026, 4, 2)),  # 2026, 武侯区, serial 123
    ("2025510100000001", None),  # 成都市
    ("2024110000123456", None),  # 北京市
    ("2026440300000009", None),  # 深圳市
    ("19510100000456", None),  # 2019, 51 四川, 01 成都, point 00
    ("18510701001234", date(2018, 6, 1)),  # 2018, 四川 绵阳, point 01
    ("09320000000001", None),  # a province whose cities are not listed: only the province is checked
])
def test_valid_numbers(number, registered_on):
    assert check_number(number, registered_on, TODAY) == number


@pytest.mark.parametrize(("number", "registered_on", "reason"), [
    ("202651010700012", None, "16 digits"),
    ("2026A10107000123", None, "16 digits"),
    ("2026999999000123", None, "division"),
    ("2026510199000123", None, "division"),  # not a Chengdu district
    ("2027510107000123", None, "year"),  # the future
    ("1980510107000123", None, "year"),
    ("2026510107000123", date(2025, 12, 31), "differs"),
    ("2026510107000000", None, "serial"),
    ("19990100000456", None, "province"),
    ("19519900000456", None, "city"),
    ("27510100000456", None, "year"),  # 1927
])
def test_invalid_numbers(number, registered_on, reason):
    with pytest.raises(Invalid) as raised:
        check_number(number, registered_on, TODAY)
    assert reason in raised.value.detail and raised.value.field == "body.number"


@pytest.mark.parametrize(("region", "area"), [
    ("cd.wuhou", ("5101", "成都市")), ("cd.hightech", ("5101", "成都市")), ("sc.mianyang", ("5100", "四川省")),
    ("cn.chongqing", ("5000", "重庆市")), ("cn.beijing", ("1100", "北京市")), ("cn.shenzhen", ("4403", "深圳市")),
    ("cn.hongkong", ("7100", "港澳台")), ("cn.taiwan", ("7100", "港澳台")), (None, ("8000", "其它")),
    ("xx.unknown", ("8000", "其它")),
])
def test_area_codes_from_regions(region, area):
    assert places().area_of(region) == area
