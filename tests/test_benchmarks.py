"""The benchmarks run and report what they should (tiny sizes; no timing is asserted)."""

import json

from benchmarks.__main__ import main


def test_kv_cache_benchmark_runs_and_reports(tmp_path, one_thread, capsys):
    main(["kv_cache", "--quick", "--device", "cpu", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "kv_cache-cpu-quick.json").read_text())
    assert [r["new_tokens"] for r in result["rows"]] == [8, 16]
    for row in result["rows"]:
        assert row["same_tokens"] is True  # the cache never changes what is generated
        assert row["tokens_per_s_cache"] > 0 and row["tokens_per_s_no_cache"] > 0
    assert "speed-up" in capsys.readouterr().out
