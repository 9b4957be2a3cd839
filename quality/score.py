"""The quality score: P(thumb up) from a response's implicit signals (logistic regression).

`feedback score fit` fits it on the responses that have both signals and a current thumb,
reports held-out AUC and calibration, and stores the coefficients with the data range in
`score_models`; the view `response_scores` then scores every response (docs/contract.md §7).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import structlog
from clickhouse_connect.driver.client import Client
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from quality.features import FEATURES

log = structlog.get_logger(__name__)

MIN_PER_CLASS = 10
TEST_SHARE = 0.25
CALIBRATION_BINS = 10


class NotEnoughLabels(Exception):
    """Too few responses with both implicit signals and a thumb to fit or evaluate a score."""


@dataclass(frozen=True)
class CalibrationBin:
    lo: float
    hi: float
    n: int
    predicted: float  # mean predicted P(up) in the bin
    observed: float  # share of thumbs up in the bin


@dataclass(frozen=True)
class ScoreModel:
    tenant_id: str  # '' = across all tenants
    model_id: str
    fitted_at: datetime
    data_from: datetime
    data_to: datetime
    n_train: int
    n_test: int
    positives: int
    auc: float
    brier: float
    intercept: float
    coefficients: dict[str, float]
    calibration: list[CalibrationBin] = field(default_factory=list)

    def row(self) -> list[Any]:
        return [
            self.tenant_id, self.model_id, self.fitted_at, self.data_from, self.data_to, self.n_train, self.n_test,
            self.positives, self.auc, self.brier, json.dumps([bin.__dict__ for bin in self.calibration]),
            list(self.coefficients), self.intercept, self.coefficients,
        ]  # fmt: skip


MODEL_COLUMNS = (
    "tenant_id", "model_id", "fitted_at", "data_from", "data_to", "n_train", "n_test", "positives", "auc",
    "brier", "calibration", "features", "intercept", "coefficients",
)  # fmt: skip


def labelled(client: Client, database: str, tenant: str | None) -> tuple[np.ndarray, np.ndarray, list[datetime]]:
    """Features, labels (1 = thumb up) and timestamps of the responses with a current thumb."""
    result = client.query(
        f"SELECT {', '.join(FEATURES)}, thumb = 'up', timestamp FROM {database}.response_signals "
        "WHERE thumb IS NOT NULL AND ({tenant:String} = '' OR tenant_id = {tenant:String})",
        parameters={"tenant": tenant or ""},
    )
    rows = result.result_rows
    x = np.array([row[: len(FEATURES)] for row in rows], dtype=np.float64).reshape(len(rows), len(FEATURES))
    y = np.array([int(row[len(FEATURES)]) for row in rows], dtype=np.int64)
    return x, y, [row[-1] for row in rows]


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> list[CalibrationBin]:
    """Equal-width bins of predicted probability: mean prediction against observed rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            out.append(
                CalibrationBin(
                    round(float(edges[b]), 2),
                    round(float(edges[b + 1]), 2),
                    int(mask.sum()),
                    float(probabilities[mask].mean()),
                    float(labels[mask].mean()),
                )
            )
    return out


def fit(
    client: Client, database: str, *, tenant: str | None = None, min_labelled: int = 200, seed: int = 0
) -> ScoreModel:
    """Fit, evaluate on a held-out quarter (stratified), store in `score_models`, return it."""
    x, y, timestamps = labelled(client, database, tenant)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    scope = f"tenant {tenant!r}" if tenant else "all tenants"
    if len(y) < min_labelled or min(positives, negatives) < MIN_PER_CLASS:
        raise NotEnoughLabels(
            f"{scope}: {len(y)} labelled response(s) ({positives} thumbs up, {negatives} down); a score needs at "
            f"least {min_labelled} (FEEDBACK_SCORE_MIN_LABELLED) with at least {MIN_PER_CLASS} of each"
        )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_SHARE, stratify=y, random_state=seed)
    model = LogisticRegression(max_iter=1000)
    model.fit(x_train, y_train)
    predicted = model.predict_proba(x_test)[:, 1]
    fitted = ScoreModel(
        tenant_id=tenant or "",
        model_id=str(uuid.uuid4()),
        fitted_at=datetime.now(UTC),
        data_from=min(timestamps),
        data_to=max(timestamps),
        n_train=len(y_train),
        n_test=len(y_test),
        positives=positives,
        auc=float(roc_auc_score(y_test, predicted)),
        brier=float(brier_score_loss(y_test, predicted)),
        intercept=float(model.intercept_[0]),
        coefficients={name: float(c) for name, c in zip(FEATURES, model.coef_[0], strict=True)},
        calibration=reliability(predicted, y_test),
    )
    client.insert(f"{database}.score_models", [fitted.row()], column_names=list(MODEL_COLUMNS))
    log.info(
        "score.fitted", tenant=fitted.tenant_id, model_id=fitted.model_id, auc=round(fitted.auc, 3),
        brier=round(fitted.brier, 4), n_train=fitted.n_train, n_test=fitted.n_test,
    )  # fmt: skip
    return fitted
