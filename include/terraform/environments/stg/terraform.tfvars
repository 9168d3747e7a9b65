# include/environments/stg.yaml is the source of these values; tests/terraform checks they agree.
account_id  = "234567890123"
region      = "ap-northeast-1"
environment = "stg"

# The Airflow workers' role signals the approval after the approval in Airflow.
approver_arns          = ["arn:aws:iam::234567890123:role/drift-repair-airflow-stg"]
min_required_approvals = 1

loop_guard_window_hours   = 168
loop_guard_max_per_window = 3

evidence_bucket_name = "drift-repair-evidence-234567890123-stg"
# stg: like prod, but GOVERNANCE so a privileged administrator can still remove evidence
evidence_object_lock_mode = "GOVERNANCE"
evidence_retention_days   = 400
pre_state_expiration_days = 400

notification_topic_name = "drift-repair-stg"
