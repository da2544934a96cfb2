"""How answers are measured: evaluation items and their ground truth (`items`), prediction records and score
results (`records`), metrics as pure functions (`metrics`), and the scorers built from them (`scorers`).

Both the evaluation harness (`vreason.eval`, which runs a model over a dataset) and the task packs
(`vreason.tasks`, whose scorers are built from these parts) depend on this package; it depends on neither, so
`eval` may use `tasks` and `tasks` never imports `eval`.
"""
