"""Forgiving names on input: fields, regions and enum labels in either script resolve to codes."""

import pytest


@pytest.mark.parametrize(("kind", "name", "code"), [
    ("field", "現代農業", "modern_agriculture"),
    ("field", "智慧农业", "modern_agriculture.smart_agriculture"),
    ("field", "种业", "modern_agriculture.seeds"),
    ("field", "ARTIFICIAL_INTELLIGENCE", "artificial_intelligence"),
    ("field", "人工智能", "artificial_intelligence"),
    ("region", "郫都區", "cd.pidu"),
    ("region", "郫都", "cd.pidu"),
    ("region", "成都市郫都区", "cd.pidu"),
    ("region", "天府新区", "cd.tianfu"),
    ("region", "四川天府新區", "cd.tianfu"),
    ("region", "高新区", "cd.hightech"),
    ("region", "綿陽市", "sc.mianyang"),
    ("region", "cd.wuhou", "cd.wuhou"),
])
def test_taxonomy_names_resolve_to_codes(kind, name, code):
    from services.taxonomy import taxonomy

    resolve = taxonomy().check_field if kind == "field" else taxonomy().check_region
    assert resolve(name) == code


@pytest.mark.parametrize(("name", "candidate"), [("量子", "ubiquitous_network.quantum"), ("氢能", "advanced_energy")])
def test_unknown_or_ambiguous_field_names_name_the_candidates(name, candidate):
    from services.errors import Invalid
    from services.taxonomy import taxonomy

    with pytest.raises(Invalid) as raised:
        taxonomy().check_field(name)
    assert candidate in raised.value.detail


@pytest.mark.parametrize(("enum", "name", "code"), [
    ("Stage", "中试", "pilot"), ("Stage", "中試", "pilot"), ("Stage", "PILOT", "pilot"),
    ("TransferMode", "许可", "licence"), ("TransferMode", "許可", "licence"),
    ("IPType", "发明专利", "invention_patent"), ("IPType", "軟體著作權", "software_copyright"),
])
def test_enum_labels_in_either_script_resolve_to_codes(enum, name, code):
    from schemas import enums

    assert enums.enum_input(getattr(enums, enum))(name) == code
