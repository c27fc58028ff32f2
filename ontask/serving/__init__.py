"""KServe predictors: the one-pass student, the judge, and the disagreement loop."""

from ontask.serving.classify import StudentClassifier, label_of
from ontask.serving.disagreement import DisagreementLoop, HttpJudgeClient, judge_correction
from ontask.serving.schema import Instance, Prediction, RequestError, instances_from_v1, instances_from_v2

__all__ = ["DisagreementLoop", "HttpJudgeClient", "Instance", "Prediction", "RequestError", "StudentClassifier",
           "instances_from_v1", "instances_from_v2", "judge_correction", "label_of"]
