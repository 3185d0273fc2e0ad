"""Time budgets for training loops: how many steps fit, from step times measured on this machine.

One planner for every trainer (MVP, cross-encoder, embedder). A loop with a budget times its
steps and calls :func:`update_plan` after each one. The plan is made once ``probe`` steps are
timed (the first, warming up, is not counted) and made again, once, when ``max(4 * probe, 10% of
the first plan)`` steps are timed: a handful of probe steps can be unrepresentative (batches of
long texts, a cold allocator), and a plan fixed on them can leave a third of the budget unused.
Learning-rate schedules read ``plan["total"]`` when they are stepped, so the re-plan stretches
or shrinks the rest of the schedule without a jump at the start of it.
"""

from __future__ import annotations

from typing import Sequence


def new_plan(upper: int, budget_s: float) -> dict:
    """The plan of a loop of at most ``upper`` steps: ``upper`` itself when there is no budget."""
    return {"total": upper, "planned": not budget_s, "replanned": not budget_s, "step_s": None, "eval_s": None,
            "plans": []}


def plan_steps(step: int, upper: int, elapsed_s: float, budget_s: float, step_s: float, eval_s: float,
               evals_left: int) -> int:
    """The last step that fits: what is left of the budget, less the validations still to run and a
    5% margin, divided by the step time; never more than ``upper``, never before ``step + 1``."""
    if not budget_s:
        return upper
    left = 0.95 * (budget_s - elapsed_s) - evals_left * eval_s
    return max(step + 1, min(upper, step + int(left / max(step_s, 1e-6))))


def typical_step(times: Sequence[float]) -> float:
    """The mean step time, the first (warm-up) step left out.

    A mean, not a median: the plan must predict the wall time the remaining steps take, and a
    median misses what comes in two sizes (``--extra-triples`` mixes 2-candidate lists with lists
    of 8 or 16: the median is one mode's time) or now and then (a checkpoint written every 50
    steps). The MVP trainer times each step from the end of the one before, validations left
    out; the embedder trainer times each step's compute (it writes no checkpoints in the loop)."""
    rest = list(times[1:]) or list(times)
    return sum(rest) / len(rest)


def update_plan(plan: dict, times: Sequence[float], step: int, upper: int, elapsed_s: float, budget_s: float,
                evals_left: int, probe: int) -> bool:
    """Plan (or re-plan) ``plan["total"]`` when it is due (see the module); True when it was.
    ``times`` are the step times of this process (a resumed run times its own steps again)."""
    if plan["replanned"]:
        return False
    due = len(times) > probe if not plan["planned"] else len(times) >= max(4 * probe, int(0.1 * plan["total"]))
    if not due:
        return False
    plan["step_s"] = typical_step(times)
    plan["total"] = plan_steps(step, upper, elapsed_s, budget_s, plan["step_s"], plan["eval_s"] or 0.0, evals_left)
    plan.setdefault("plans", []).append({"step": step, "step_s": round(plan["step_s"], 3), "total": plan["total"]})
    if plan["planned"]:
        plan["replanned"] = True  # this was the second plan: the last one
    plan["planned"] = True
    return True
