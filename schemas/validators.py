"""Validators of Chinese identifiers: pure functions, used by the API models and the import."""

import re
from datetime import UTC, datetime

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def credit_code_check_digit(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> str:
    """统一社会信用代码 (GB 32100-2015): 18 characters, the last a check digit over the first 17."""
    code = value.strip().upper()
    if not _USCC_SHAPE.match(code):
        raise ValueError("a unified social credit code has 18 characters from 0-9 and A-Y (no I, O, S, V, Z)")
    if credit_code_check_digit(code[:17]) != code[17]:
        raise ValueError("check digit of the unified social credit code is wrong")
    return code


_PATENT_APPLICATION = re.compile(r"^(?:ZL|CN)?(\d{4})([1-9])(\d{7})\.?([0-9X])$")
_PATENT_PUBLICATION = re.compile(r"^CN\d{9}[ABCUSY]\d?$")
_SOFTWARE_COPYRIGHT = re.compile(r"^\d{4}SR\d{6,8}$")
_IC_LAYOUT = re.compile(r"^BS\.?\d{8,10}(\.[0-9X])?$")


def patent_check_digit(digits12: str) -> str:
    total = sum(int(d) * w for d, w in zip(digits12, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def validate_ip_number(ip_type: str, number: str) -> str:
    """Chinese patent application numbers (ZL202110123456.7, check digit validated), publication
    numbers (CN112345678A), software copyright registrations (2023SR0123456), IC layout-design
    registrations (BS.215709748)."""
    value = number.strip().upper().replace(" ", "")
    if ip_type in ("invention_patent", "utility_model"):
        if _PATENT_PUBLICATION.match(value):
            return value
        match = _PATENT_APPLICATION.match(value)
        if not match:
            raise ValueError("expected a patent application number like ZL202110123456.7 or a "
                             "publication number like CN112345678A")
        digits = "".join(match.groups()[:3])
        if patent_check_digit(digits) != match.group(4):
            raise ValueError("check digit of the patent application number is wrong")
        return f"ZL{digits}.{match.group(4)}"
    if ip_type == "software_copyright" and not _SOFTWARE_COPYRIGHT.match(value):
        raise ValueError("expected a software copyright registration number like 2023SR0123456")
    if ip_type == "ic_layout" and not _IC_LAYOUT.match(value):
        raise ValueError("expected an IC layout-design registration number like BS.215709748")
    return value


# Control characters (but tab, newline and carriage return) and lone surrogates: PostgreSQL refuses NUL,
# text with a lone surrogate cannot be encoded at all, and the rest corrupt what people see and export.
_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
FORBIDDEN_CHARACTERS_MESSAGE = "control characters (such as NUL) are not allowed; tab and newline are"


def has_forbidden_characters(value: str) -> bool:
    return _FORBIDDEN_CHARACTERS.search(value) is not None


def find_forbidden_characters(value, path: tuple = ()) -> tuple | None:
    """The path (keys and list indexes) of the first string in a JSON value holding a forbidden
    character, keys included; None when there is none."""
    if isinstance(value, str):
        return path if has_forbidden_characters(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if has_forbidden_characters(str(key)):
                return (*path, key)
            if (found := find_forbidden_characters(item, (*path, key))) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := find_forbidden_characters(item, (*path, index))) is not None:
                return found
    return None


def storable_datetime(value: datetime) -> datetime:
    """A datetime the database driver can convert to UTC: `0001-01-01T00:00:00+14:00` is a valid
    Python datetime whose UTC instant falls before year 1."""
    try:
        value.astimezone(UTC)  # a time without zone is local, as the driver reads it
    except (OverflowError, ValueError) as exc:
        raise ValueError("datetime out of range: its UTC time must fall within years 1 to 9999") from exc
    return value
