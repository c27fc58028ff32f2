"""KServe predictors of the one-pass student (ontask.models.classifier), the judge, and the
disagreement loop. Their request and response schema is ontask.api.predictions (light: the capture
agent uses it on a user's desktop without torch)."""
