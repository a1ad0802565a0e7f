"""Data safety (issue 20), as a user meets it: the cases of tests/data_safety.py, each asserted on its own.

The quick set (in-process and short CLI runs: a folder of other files under ``-o``, training over a trained
model, a full disk, bad ``-o`` paths for ten commands, a larger generation's leftovers) runs in the default
tier; the subprocess-heavy rest (concurrent runs, kill -9, Ctrl-C and resume, torchrun) is marked slow.
"""

from __future__ import annotations

import pytest

from data_safety import safety_figures


def _check(report: dict) -> None:
    cases = report["cases"]
    for name, row in cases.items():
        assert "traceback" not in row and not row.get("tracebacks"), (name, row)
        assert not row.get("lost") and not row.get("mixed"), (name, row)
    assert report["tracebacks"] == 0 and report["data_lost"] == 0, report


@pytest.mark.slow  # 31 s on two busy cores: its cases are also single fast tests in test_outputs/test_output_policy
def test_quick_data_safety_cases(tmp_path):
    report = safety_figures(tmp_path, quick=True)
    _check(report)
    cases = report["cases"]
    assert cases["prepare_into_a_folder_of_other_files"]["refused"] and cases["prepare_into_a_folder_of_other_files"]["forced_ok"]
    train = cases["melody_train_over_a_trained_model"]
    assert train["first_ok"] and train["refused"] and train["force_replaced"], train
    assert cases["disk_full"]["said_disk_full"] >= 1, cases["disk_full"]
    bad = cases["bad_output_paths"]
    assert bad["tries"] == 30 and bad["unclear_or_accepted"] == 0, bad
    assert cases["generate_leftovers"]["left_over"] == [], cases["generate_leftovers"]
    assert report["cases_tried"] >= 30


@pytest.mark.slow
def test_all_data_safety_cases(tmp_path):
    report = safety_figures(tmp_path, quick=False)
    _check(report)
    cases = report["cases"]
    assert cases["two_prepares_at_one_folder"]["second_run_refused"] >= 1
    assert cases["kill_9_on_prepare_workers"]["workers_left_running"] == 0
    ctrl_c = cases["ctrl_c_then_resume"]
    assert ctrl_c["interrupted"] == ctrl_c["tries"] and ctrl_c["resumes_not_bit_identical"] == 0, ctrl_c
    video = cases["kill_9_on_video"]
    assert video["next_run_ok"] and video["temp_files_after_next_run"] == 0, video
