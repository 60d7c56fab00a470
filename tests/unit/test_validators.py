"""Chinese identifiers: unified social credit codes and patent numbers."""

import pytest

from schemas.validators import validate_credit_code, validate_ip_number


@pytest.mark.parametrize("code", ["91510100MA6C4XKX8Q", "12100000450718488J", "91350100M000100Y43"])
def test_valid_credit_codes(code):
    assert validate_credit_code(code.lower()) == code


@pytest.mark.parametrize("code", ["91510100MA6C4XKX8A", "9151010MA6C4XKX8Q", "91510100MA6C4XKXIH", ""])
def test_invalid_credit_codes(code):
    with pytest.raises(ValueError):
        validate_credit_code(code)


@pytest.mark.parametrize(("ip_type", "number", "expected"), [
    ("invention_patent", "ZL202110123456.7", "ZL202110123456.7"),
    ("invention_patent", "202110123456.7", "ZL202110123456.7"),
    ("invention_patent", "CN112345678A", "CN112345678A"),
    ("utility_model", "CN212345678U", "CN212345678U"),
    ("software_copyright", "2023SR0123456", "2023SR0123456"),
    ("ic_layout", "BS.215709748", "BS.215709748"),
    ("plant_variety", "CNA20217560.6", "CNA20217560.6"),
])
def test_valid_ip_numbers(ip_type, number, expected):
    assert validate_ip_number(ip_type, number) == expected


@pytest.mark.parametrize(("ip_type", "number"), [
    ("invention_patent", "ZL202110123456.8"),  # wrong check digit
    ("invention_patent", "ZL2021"),
    ("software_copyright", "SR123"),
    ("ic_layout", "ZL202110123456.7"),
])
def test_invalid_ip_numbers(ip_type, number):
    with pytest.raises(ValueError):
        validate_ip_number(ip_type, number)
