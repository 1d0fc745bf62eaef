"""The benchmarks run and report what they should (tiny sizes; no timing is asserted)."""

import json

import pytest

from benchmarks.__main__ import BENCHMARKS, DEFAULT, main


def test_kv_cache_benchmark_runs_and_reports(tmp_path, one_thread, capsys):
    main(["kv_cache", "--quick", "--device", "cpu", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "kv_cache-cpu-quick.json").read_text())
    assert [r["new_tokens"] for r in result["rows"]] == [8, 16]
    for row in result["rows"]:
        assert row["same_tokens"] is True  # the cache never changes what is generated
        assert row["tokens_per_s_cache"] > 0 and row["tokens_per_s_no_cache"] > 0
    assert "speed-up" in capsys.readouterr().out


def _quick(name, tmp_path):
    main([name, "--quick", "--device", "cpu", "--out", str(tmp_path)])
    return json.loads((tmp_path / f"{name}-cpu-quick.json").read_text())


def test_default_set_leaves_out_the_slow_notebooks_benchmark():
    assert "notebooks" in BENCHMARKS and "notebooks" not in DEFAULT
    assert {"attention", "mha", "gpt_train", "generation", "kv_cache"} <= set(DEFAULT)


def test_attention_benchmark_runs_and_reports(tmp_path, one_thread, capsys):
    result = _quick("attention", tmp_path)
    assert [r["T"] for r in result["rows"]] == [16, 32]
    for row in result["rows"]:
        assert row["outputs_agree"] is True  # fused, PyTorch and explicit paths: one result
        assert row["ms_library"] > 0 and row["ms_torch"] > 0 and row["ms_explicit"] > 0
        assert row["score_matrix_bytes"] == 4 * row["T"] ** 2 * 4  # H = 4 float32 matrices
        assert row["peak_bytes_explicit"] >= row["score_matrix_bytes"]  # it materialises them
    assert result["memory_method"] and result["threads"] == 1
    assert "lib/torch" in capsys.readouterr().out


def test_mha_benchmark_runs_and_reports(tmp_path, one_thread):
    result = _quick("mha", tmp_path)
    assert len(result["rows"]) == 2
    for row in result["rows"]:
        assert row["same_output"] is True  # same weights, same outputs and input gradients
        assert row["ratio"] > 0


def test_gpt_train_benchmark_runs_and_reports(tmp_path, one_thread):
    result = _quick("gpt_train", tmp_path)
    assert result["same_loss"] is True  # same weights: same loss, also after one AdamW step
    assert [r["model"] for r in result["rows"]] == ["library", "huggingface"]
    for row in result["rows"]:
        assert row["tokens_per_s"] > 0 and 0 < row["mfu"]
    assert result["flops_per_token"] > 6 * 15_000 and result["matmul_flops_per_s"] > 0


def test_generation_benchmark_runs_and_reports(tmp_path, one_thread):
    result = _quick("generation", tmp_path)
    assert [r["new_tokens"] for r in result["rows"]] == [8, 16]
    for row in result["rows"]:
        assert row["same_tokens"] is True  # greedy: the same tokens as Hugging Face
        assert row["tokens_per_s_library"] > 0 and row["tokens_per_s_huggingface"] > 0


@pytest.mark.slow
def test_notebooks_benchmark_quick_runs_a_generated_notebook(tmp_path, one_thread):
    result = _quick("notebooks", tmp_path)
    [row] = result["rows"]
    assert row["ok"] is True and row["outputs"] == ["2\n"]
    assert result["total_seconds"] == row["seconds"] > 0
    # the machine's speed on a fixed workload, before and after, to compare runs
    rate = result["reference_steps_per_second"]
    assert rate["before"] > 0 and rate["after"] > 0
    assert "reference GPT training steps/s" in BENCHMARKS["notebooks"].table(result)


@pytest.mark.slow  # five fresh processes, each importing PyTorch
def test_threads_benchmark_runs_two_processes_side_by_side(tmp_path, capsys):
    result = _quick("threads", tmp_path)
    setups = [r["setup"] for r in result["rows"]]
    assert setups[0] == "alone" and setups.count("two, default threads") == 2
    assert len(setups) == 5 and all(r["step_s"] > 0 for r in result["rows"])
    share = max(1, result["cores"] // 2)
    assert [r["threads"] for r in result["rows"][3:]] == [share, share]
    assert "vs alone" in capsys.readouterr().out
