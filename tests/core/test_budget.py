"""viewrank.budget: the one step planner every trainer uses."""

from __future__ import annotations

from viewrank.budget import new_plan, plan_steps, typical_step, update_plan


def test_plan_steps_fits_the_budget():
    assert plan_steps(7, 10_000, 100.0, 600.0, 2.0, 20.0, 4) == 7 + 197
    assert plan_steps(7, 50, 100.0, 600.0, 2.0, 20.0, 4) == 50  # the epochs' bound
    assert plan_steps(7, 10_000, 0.0, 0.0, 2.0, 20.0, 4) == 10_000  # no budget
    assert plan_steps(7, 10_000, 590.0, 600.0, 2.0, 20.0, 4) == 8  # over budget: stop at the next step


def test_the_typical_step_is_the_mean_without_the_warm_up_step():
    assert typical_step([30.0, 2.0, 3.0, 4.0]) == 3.0 and typical_step([5.0]) == 5.0
    # lists of 16 (3 s) and 2-candidate triples (0.5 s) interleaved: the plan needs their mean, not one mode
    assert typical_step([30.0] + [3.0, 0.5] * 10) == 1.75
    # a checkpoint every 50 steps costs wall time the remaining steps will pay too
    assert typical_step([30.0] + [2.0] * 49 + [12.0]) == 2.2


def test_the_plan_is_made_after_the_probe_and_made_again_once_on_more_steps():
    plan = new_plan(10_000, 1000.0)
    times = [20.0] + [9.0] * 5  # a slow warm-up, then probe steps slower than the run will be
    assert not update_plan(plan, times[:5], 5, 10_000, 60.0, 1000.0, 0, probe=5)  # 5 timed: not yet
    assert update_plan(plan, times, 6, 10_000, 65.0, 1000.0, 0, probe=5)
    first = plan["total"]
    assert first == 6 + int((0.95 * 1000 - 65) / 9.0)
    times += [6.0] * 14  # 20 timed (4 x probe; 10% of the first plan is 10): the re-plan is due
    assert not update_plan(plan, times[:19], 19, 10_000, 150.0, 1000.0, 0, probe=5)
    assert update_plan(plan, times, 20, 10_000, 155.0, 1000.0, 0, probe=5)
    assert plan["total"] > first and plan["step_s"] == (5 * 9.0 + 14 * 6.0) / 19
    assert [p["total"] for p in plan["plans"]] == [first, plan["total"]]
    assert not update_plan(plan, times + [1.0] * 100, 120, 10_000, 300.0, 1000.0, 0, probe=5)  # only once


def test_without_a_budget_the_plan_is_the_upper_bound():
    plan = new_plan(40, 0.0)
    assert not update_plan(plan, [1.0] * 30, 30, 40, 30.0, 0.0, 0, probe=5) and plan["total"] == 40
