"""The fast pseudonymiser gives exactly HMAC-SHA256 of the normalised identifier, for any key."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from pipelines.intake.pseudonym import Hasher, normalise_identifier, pseudonymise, pseudonymise_all

VALUES = ["WYP3925817", " wyp3925817 ", "003003650", "3003650", "0", "000", "MOS00123", "Zoë-ß", "", "x" * 500]


@pytest.mark.parametrize("length", [1, 16, 32, 63, 64, 65, 100, 300])
def test_hasher_is_hmac_sha256_of_the_normalised_identifier_for_keys_of_every_length(length):
    key = bytes((7 * i + 3) % 256 for i in range(length))
    hasher = Hasher(key)
    for value in VALUES:
        expected = hmac.new(key, normalise_identifier(value).encode("utf-8"), hashlib.sha256).hexdigest()
        assert hasher(value) == expected == pseudonymise(value, key)


def test_pseudonymise_all_hashes_each_value_keeps_blanks_and_joins_spellings_of_one_child():
    key = b"a-key-of-sixteen-or-more"
    out = pseudonymise_all(["003003650", None, "3003650", float("nan"), "MOS1", "mos1"], key)
    assert out[1] is None and out[3] is None
    assert out[0] == out[2] == pseudonymise("3003650", key)
    assert out[4] == out[5] == pseudonymise("MOS1", key)
    assert out[0] != out[4] and len(out[0]) == 64
