from fault_injection import inject


def test_twenty_kills_lose_nothing():
    result = inject(kills=20, seed=1)
    assert result["kills"] == 20
    assert result["mismatches"] == 0
    assert result["temporaries_left"] == []
    assert result["studies_checked"] >= 1  # every stretch of kills ends in a checked, finished study
    assert result["epochs_checked"] == result["studies_checked"] * result["runs"] * 7
