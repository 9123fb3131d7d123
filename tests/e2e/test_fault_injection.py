from fault_injection import inject


def test_half_a_dozen_kills_lose_nothing():
    # 6 kills keep the suite's time (each kill restarts a process that imports torch: ~10 s a kill);
    # the long run, `python tests/support/fault_injection.py --kills 200`, is the same test at length.
    result = inject(kills=6, seed=1)
    assert result["kills"] == 6
    assert result["mismatches"] == 0
    assert result["temporaries_left"] == []
    assert result["studies_checked"] >= 1  # every stretch of kills ends in a checked, finished study
    assert result["epochs_checked"] == result["studies_checked"] * result["runs"] * 7
