"""Human review: the run leaves the score pending; ``thresher.evals.human`` sends the outputs to an
annotation dataset (a rating question) and reads the scores back when annotators have submitted."""

from __future__ import annotations

from thresher.evals.scorers.base import EvalItem, Score, Scorer, register_scorer


@register_scorer("human")
class HumanScorer(Scorer):
    pass_fail = False

    def score(self, item: EvalItem, output: str) -> Score:
        return Score(None, None, {"pending": "human"})
