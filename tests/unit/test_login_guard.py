"""The delay a (account, address) pair waits after its n-th failed login."""

from datetime import timedelta

import pytest

from services.login_guard import delay_after


@pytest.mark.parametrize(("failures", "seconds"), [
    (1, 0), (4, 0), (5, 1), (6, 2), (7, 4), (10, 32), (14, 512), (15, 900), (100, 900), (10_000, 900),
])
def test_delay_grows_and_is_capped(failures, seconds):
    assert delay_after(failures) == timedelta(seconds=seconds)
