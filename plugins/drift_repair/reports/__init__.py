"""What the team and the auditors read, written from plain data (the report task calls these).

excel.py          run workbook (パラメーターシート, 差分一覧, 修復履歴, drift_kpi), parameter sheet, KPI workbook
evidence.py       per-run evidence bundle: JSON records, workbook, manifest.json of SHA-256; upload; verify
history.py        append-only KPI history (local JSON lines, one S3 object per append), read with dedupe
notifications.py  approval request and run summary messages; delivery through SNS and Slack notifiers
publish.py        publish_run_evidence: all of the above for one run, in a retry-safe order
"""
